import { useConfabClient } from '@confab/client/react';
import { useEffect, useState } from 'react';
import { useMe } from '../state/me.tsx';
import { navigate, useRoute } from '../state/router.ts';
import { DrawerButton } from '../ui/DrawerButton.tsx';
import { Icon } from '../ui/Icon.tsx';
import { AiSection } from './AiSection.tsx';
import { ApiKeysSection } from './ApiKeysSection.tsx';
import { AuditSection } from './AuditSection.tsx';
import { InstanceSection } from './InstanceSection.tsx';
import { InvitesSection } from './InvitesSection.tsx';
import { ReportsSection } from './ReportsSection.tsx';
import { UsersSection } from './UsersSection.tsx';
import { turnedOffByFailures } from './webhookText.ts';
import { WebhooksSection } from './WebhooksSection.tsx';
import './admin.css';

export const ADMIN_SECTIONS = [
  ['users', 'Users'],
  ['invites', 'Invites'],
  ['registration', 'Registration'],
  ['ai', 'AI'],
  ['api-keys', 'API keys'],
  ['webhooks', 'Webhooks'],
  ['reports', 'Reports'],
  ['audit', 'Audit log'],
] as const;
type SectionId = (typeof ADMIN_SECTIONS)[number][0];

export function isAdmin(role: string | undefined): boolean {
  return role === 'owner' || role === 'admin';
}

/**
 * How many webhooks the server turned off after a day of failures, read when the console opens and
 * on each change of section (the Webhooks section tells it of its own reads): the Webhooks tab shows
 * it, so an admin on any section learns of it.
 */
function useWebhooksTurnedOff(admin: boolean, section: string): [number, (n: number) => void] {
  const client = useConfabClient();
  const [count, setCount] = useState(0);
  useEffect(() => {
    if (!admin) return;
    let live = true;
    client.api.listWebhooks().then(
      (r) => live && setCount(r.webhooks.filter(turnedOffByFailures).length),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [client, admin, section]);
  return [count, setCount];
}

/** The admin console (`/admin/<section>`): one section at a time, chosen from a tab bar. */
export function AdminView({ section, onOpenDrawer }: { section: string | null; onOpenDrawer: () => void }) {
  const { me } = useMe();
  const current: SectionId = (ADMIN_SECTIONS.find(([id]) => id === section)?.[0] ?? 'users') as SectionId;
  const [webhooksOff, setWebhooksOff] = useWebhooksTurnedOff(isAdmin(me.role), current);
  useEffect(() => {
    document.querySelector('.admin-body')?.scrollTo({ top: 0 });
    // On a phone the tab bar scrolls: keep the open section's tab in sight.
    document.querySelector('.admin-tabs [aria-current]')?.scrollIntoView({ block: 'nearest', inline: 'center' });
  }, [current]);
  if (!isAdmin(me.role)) {
    return (
      <div className="settings admin">
        <header className="conv-header">
          <DrawerButton onOpenDrawer={onOpenDrawer} />
          <span className="conv-header-text">
            <h1>Admin</h1>
          </span>
        </header>
        <div className="settings-body">
          <p className="hint">Only the instance's owners and admins can open the admin console.</p>
        </div>
      </div>
    );
  }
  return (
    <div className="settings admin">
      <header className="conv-header">
        <DrawerButton onOpenDrawer={onOpenDrawer} />
        <span className="conv-header-text">
          <h1>Admin</h1>
          <span className="conv-sub">You are {me.role === 'owner' ? 'an owner' : 'an admin'} of this instance</span>
        </span>
      </header>
      <nav className="admin-tabs" aria-label="Admin sections">
        {ADMIN_SECTIONS.map(([id, label]) => (
          <a
            key={id}
            href={`/admin/${id}`}
            aria-current={current === id ? 'page' : undefined}
            onClick={(e) => {
              if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
              e.preventDefault();
              navigate(`/admin/${id}`, { replace: true });
            }}
          >
            {label}
            {id === 'webhooks' && webhooksOff > 0 && (
              <span className="tab-alert" title={`${webhooksOff} turned off after failing for a day`}>
                <Icon name="alert" size={13} />
                <span className="visually-hidden">, {webhooksOff} turned off after failing for a day</span>
              </span>
            )}
          </a>
        ))}
      </nav>
      <div className="settings-body admin-body">
        {current === 'users' && <UsersSection />}
        {current === 'invites' && <InvitesSection />}
        {current === 'registration' && <InstanceSection />}
        {current === 'ai' && <AiSection />}
        {current === 'api-keys' && <ApiKeysSection />}
        {current === 'webhooks' && <WebhooksSection onTurnedOff={setWebhooksOff} />}
        {current === 'reports' && <ReportsSection />}
        {current === 'audit' && <AuditSection />}
      </div>
    </div>
  );
}

/** The sidebar's way to the admin console, for owners and admins only. */
export function AdminNavLink() {
  const { me } = useMe();
  const route = useRoute();
  if (!isAdmin(me.role)) return null;
  const active = route.name === 'admin';
  return (
    <div className="sidebar-views">
      <a
        href="/admin"
        className={`sidebar-view-link ${active ? 'active' : ''}`}
        aria-current={active ? 'page' : undefined}
        onClick={(e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          navigate('/admin');
        }}
      >
        <span className="sidebar-view-icon" aria-hidden="true">
          <Icon name="key" size={16} />
        </span>
        <span className="sidebar-view-label">Admin</span>
      </a>
    </div>
  );
}
