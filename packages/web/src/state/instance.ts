import { useConfabClient } from '@confab/client/react';
import type { InstanceInfo } from '@confab/protocol';
import { useEffect, useState } from 'react';

/** What the sign-in page needs to know of the instance (its name, who may register). */
export function useInstance(): InstanceInfo | null {
  const client = useConfabClient();
  const [instance, setInstance] = useState<InstanceInfo | null>(null);
  useEffect(() => {
    let live = true;
    client.api.getInstance().then(
      (i) => live && setInstance(i),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [client]);
  return instance;
}
