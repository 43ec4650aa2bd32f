import { ConfabError, type ConfabClient, type Me } from '@confab/client';
import { ConfabProvider } from '@confab/client/react';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { AuthScreen } from '../auth/AuthScreen.tsx';
import { humanError } from '../lib/errors.ts';
import { ResetPasswordScreen } from '../auth/ResetPassword.tsx';
import { navigate, useRoute } from '../state/router.ts';
import { clearSession, loadCachedMe, onOtherTabSession, persistSession, saveMe } from '../lib/session.ts';
import { ConfirmHost } from '../ui/confirm.tsx';
import { ErrorBoundary } from '../ui/ErrorBoundary.tsx';
import { Toasts } from '../ui/toast.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { MeContext } from '../state/me.tsx';
import { SettingsProvider } from '../state/settings.tsx';
import { clearDrafts } from '../chat/Composer.tsx';
import { Shell } from './Shell.tsx';
import { SharedPage } from '../shared/SharedPage.tsx';

type Auth = { state: 'signedOut'; notice?: string } | { state: 'loading' } | { state: 'signedIn'; me: Me };

/** Said on the sign-in page when the server ended the session (revoked, password changed, account deactivated). */
export const SESSION_ENDED = 'You were signed out: your session was ended on the server (from another device, or by an admin). Sign in again to continue.';

/** Who is signed in: restores the session on load, follows other tabs, and ends it on expiry. */
export function Root({ client, resumed }: { client: ConfabClient; resumed: boolean }) {
  const [auth, setAuth] = useState<Auth>(() => {
    if (!resumed) return { state: 'signedOut' };
    const cached = loadCachedMe();
    return cached && cached.id === client.userId ? { state: 'signedIn', me: cached } : { state: 'loading' };
  });
  const signedIn = auth.state !== 'signedOut';

  // Keep the stored session in step with token rotation while signed in.
  useEffect(() => (signedIn ? persistSession(client) : undefined), [client, signedIn]);

  // Refresh the profile after a reload (the cached one painted the first frame).
  useEffect(() => {
    if (!resumed) return;
    client.fetchMe().then(
      (me) => {
        saveMe(me);
        setAuth({ state: 'signedIn', me });
      },
      (error: unknown) => {
        if (error instanceof ConfabError && error.code === 'UNAUTHENTICATED') {
          clearSession();
          setAuth({ state: 'signedOut', notice: SESSION_ENDED });
        } else {
          // Offline: keep going from the cache; the SDK reconnects on its own.
          const cached = loadCachedMe();
          setAuth(cached ? { state: 'signedIn', me: cached } : { state: 'signedOut', notice: "Can't reach Confab. Check your connection and sign in again." });
        }
      },
    );
  }, [client, resumed]);

  useEffect(
    () =>
      client.on('sessionExpired', () => {
        clearSession();
        setAuth({ state: 'signedOut', notice: SESSION_ENDED });
      }),
    [client],
  );

  // Another tab signed in or out: follow it.
  useEffect(
    () =>
      onOtherTabSession((session) => {
        if (!session) {
          void client.logout().catch(() => {});
          setAuth({ state: 'signedOut', notice: 'You signed out in another tab.' });
        } else if (!client.tokens) {
          client.setSession(session);
          setAuth({ state: 'loading' });
          client.fetchMe().then(
            (me) => {
              saveMe(me);
              setAuth({ state: 'signedIn', me });
            },
            () => setAuth({ state: 'signedOut' }),
          );
        }
      }),
    [client],
  );

  const onSignedIn = useCallback((me: Me) => {
    saveMe(me);
    setAuth({ state: 'signedIn', me });
  }, []);

  // Single sign-on ends at /sso?code=… (or ?error=…): the code is exchanged for a session, once.
  useEffect(() => {
    if (window.location.pathname !== '/sso') return;
    const params = new URLSearchParams(window.location.search);
    const code = params.get('code');
    window.history.replaceState(null, '', '/');
    if (!code) {
      setAuth({ state: 'signedOut', notice: params.get('error') ?? 'Single sign-on did not finish. Try again.' });
      return;
    }
    setAuth({ state: 'loading' });
    client.api.exchangeSsoCode(code).then(
      (result) => {
        client.setSession(result);
        onSignedIn(result.user);
      },
      (error: unknown) => setAuth({ state: 'signedOut', notice: humanError(error) }),
    );
  }, [client, onSignedIn]);

  const signOut = useCallback(async (notice?: string) => {
    clearSession();
    clearDrafts();
    await client.logout().catch(() => {});
    setAuth(notice ? { state: 'signedOut', notice } : { state: 'signedOut' });
    window.history.replaceState(null, '', '/');
  }, [client]);

  const meState = useMemo(
    () =>
      auth.state === 'signedIn'
        ? {
            me: auth.me,
            setMe: (me: Me) => {
              saveMe(me);
              setAuth({ state: 'signedIn', me });
            },
            signOut,
          }
        : null,
    [auth, signOut],
  );

  // A password reset link works whoever is signed in here; the reset ends every session anyway.
  const route = useRoute();
  const resetDone = useCallback(
    (notice: string) => {
      if (auth.state !== 'signedOut') {
        clearSession();
        void client.logout().catch(() => {});
      }
      setAuth(notice ? { state: 'signedOut', notice } : { state: 'signedOut' });
      navigate('/', { replace: true });
    },
    [auth.state, client],
  );
  useEffect(() => {
    // Signed in already: an invite link has nothing more to do.
    if (auth.state === 'signedIn' && route.name === 'invite') navigate('/', { replace: true });
  }, [auth.state, route]);
  // A shared snapshot is public: the same page whoever is (or is not) signed in here.
  if (route.name === 'shared') {
    return (
      <ConfabProvider client={client}>
        <SharedPage id={route.id} />
      </ConfabProvider>
    );
  }
  if (route.name === 'reset') {
    return (
      <ConfabProvider client={client}>
        <ResetPasswordScreen token={route.token} onDone={resetDone} />
        <Toasts />
      </ConfabProvider>
    );
  }

  return (
    <ConfabProvider client={client}>
      {auth.state === 'signedOut' && <AuthScreen key={route.name === 'invite' ? route.token : ''} onSignedIn={onSignedIn} notice={auth.notice} inviteToken={route.name === 'invite' ? route.token : undefined} />}
      {auth.state === 'loading' && (
        <div className="boot">
          <Spinner size={28} label="Loading Confab" />
        </div>
      )}
      {meState && (
        <MeContext.Provider value={meState}>
          <SettingsProvider>
            {/* The last resort, should the layout itself fail: a way out rather than a blank page. */}
            <ErrorBoundary kind="screen">
              <Shell />
            </ErrorBoundary>
          </SettingsProvider>
        </MeContext.Provider>
      )}
      <Toasts />
      <ConfirmHost />
    </ConfabProvider>
  );
}

