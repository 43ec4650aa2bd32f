import type { Me } from '@confab/client';
import { createContext, useContext } from 'react';

export interface MeState {
  me: Me;
  setMe: (me: Me) => void;
  /** Ends the session; `notice` is said on the sign-in page. */
  signOut: (notice?: string) => Promise<void>;
}

export const MeContext = createContext<MeState | null>(null);

export function useMe(): MeState {
  const v = useContext(MeContext);
  if (!v) throw new Error('useMe outside a signed-in tree');
  return v;
}
