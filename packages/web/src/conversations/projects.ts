import type { ConfabClient } from '@confab/client';
import type { Project } from '@confab/protocol';
import { useCallback, useEffect, useState } from 'react';

/** The user's projects (folders of conversations), loaded once and changed through these calls. */
export function useProjects(client: ConfabClient) {
  const [projects, setProjects] = useState<Project[]>([]);
  const reload = useCallback(() => {
    client.api.listProjects().then(
      (r) => setProjects(r.projects),
      () => {},
    );
  }, [client]);
  useEffect(reload, [reload]);
  const create = useCallback(
    async (name: string) => {
      const p = await client.api.createProject(name);
      setProjects((list) => [...list, p]);
      return p;
    },
    [client],
  );
  const rename = useCallback(
    async (id: string, name: string) => {
      const p = await client.api.renameProject(id, name);
      setProjects((list) => list.map((x) => (x.id === id ? p : x)));
    },
    [client],
  );
  const remove = useCallback(
    async (id: string) => {
      await client.api.deleteProject(id);
      setProjects((list) => list.filter((x) => x.id !== id));
    },
    [client],
  );
  return { projects, create, rename, remove, reload };
}
