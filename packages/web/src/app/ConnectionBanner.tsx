import { useConnection } from '@confab/client/react';
import { useEffect, useRef, useState } from 'react';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';

/**
 * Says so when the app can't reach the server: offline (the network is down: sends are queued),
 * reconnecting (the server is unreachable: retrying), and briefly "back online". The first
 * connection of a page load shows nothing unless it takes long.
 */
export function ConnectionBanner() {
  const state = useConnection();
  const [shown, setShown] = useState<'offline' | 'reconnecting' | 'back' | null>(null);
  const wasDown = useRef(false);
  const everOnline = useRef(false);

  useEffect(() => {
    let timer: number | undefined;
    if (state === 'online') {
      everOnline.current = true;
      if (wasDown.current) {
        wasDown.current = false;
        setShown('back');
        timer = window.setTimeout(() => setShown(null), 2500);
      } else setShown(null);
    } else if (state === 'offline') {
      wasDown.current = true;
      setShown('offline');
    } else {
      // connecting / reconnecting: only worth a word if it lasts.
      timer = window.setTimeout(
        () => {
          wasDown.current = true;
          setShown('reconnecting');
        },
        everOnline.current ? 800 : 2500,
      );
    }
    return () => window.clearTimeout(timer);
  }, [state]);

  if (!shown) return null;
  return (
    <div className={`conn-banner conn-${shown}`} role="status" aria-live="polite">
      {shown === 'offline' && (
        <>
          <Icon name="wifiOff" size={16} /> You're offline. You can still read, and messages you send will go out when you're back.
        </>
      )}
      {shown === 'reconnecting' && (
        <>
          <Spinner size={14} /> Reconnecting…
        </>
      )}
      {shown === 'back' && (
        <>
          <Icon name="check" size={16} /> Back online
        </>
      )}
    </div>
  );
}
