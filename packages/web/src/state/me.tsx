import type { Me } from '@confab/client';
import { createContext, useContext } from 'react';

export interface MeState {
  me: Me;
  setMe: (me: Me) => void;
  signOut: () => Promise<void>;
}

export const MeContext = createContext<MeState | null>(null);

export function useMe(): MeState {
  const v = useContext(MeContext);
  if (!v) throw new Error('useMe outside a signed-in tree');
  return v;
}
