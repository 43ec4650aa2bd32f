import { createClient } from '@confab/client';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Root } from './app/Root.tsx';
import { applyStoredAppearance } from './state/settings.tsx';
import { loadSession } from './lib/session.ts';
import './styles.css';

applyStoredAppearance();

// One client for the page's life: it holds the session, the socket, the store and the outbox.
const client = createClient({ url: window.location.origin });
const stored = loadSession();
if (stored) client.setSession(stored);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root client={client} resumed={stored !== null} />
  </StrictMode>,
);
