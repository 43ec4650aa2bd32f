import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from './migrations.ts';

/**
 * What each shipped migration ran, as a SHA-256 of its SQL text. A database records only the
 * versions it applied, so a migration whose text changed would leave new databases different from
 * the ones migrated before; parts of a migration's text kept elsewhere (the send batch function,
 * storage/messages.ts) must not change it either. A new migration adds its line here.
 */
const SHIPPED: Record<number, string> = {
  1: 'e26684bf5135da9e97f49052ac3ee5787868fc98939fcb6121ca891763c8e476',
  2: '5de36a34d881664235b6195fdca261172ec89f4ea08248f9e45de64f568c2053',
  3: 'ae4a960fca3061e01211e6f282f23db58e007a6c57114be8273708264e66c0b7',
  4: 'c776bff6c190850a1ba294fe9d0a88d7c3d358514e8de20f33bc9c23952a1b47',
  5: '119c926b155c59c62c7be6f03a312fe13155be98611c1bc6704ab654a293aabb',
  6: '248afdd16aaeecfaa5cf124741d867288b37b28305be92cf7b94d201cf02fe32',
  7: '69b4b855f6fe36d0361d52ef4631fdf31e56432b101f0a624e6357a4f42608e3',
  8: '3a1028b68c37d8478013aa0711ce4b4c0125589dcf8ae1c83146e45420306738',
  9: '6878a2e84c679d30f28bae30d3ed915606d36edf34c608c583005c8af2b970bd',
  10: 'd5bca80ff44be86416c450c6f64fb23bc0c2691136190efc39cff4b9eb9646de',
  11: 'eff8f5334b7ed37c8da95c577a820364db40b0dcc38094c8a1b1b217fa4c56b1',
  12: 'a22acdbc92a127bd94e9bce7547fee68222eb2c31110f3838fc9707a090b309c',
  13: '1c08863a4a3c78b1aa11f05551bd7c6149038f0ed3c254718173a2e9e6bb1657',
  14: '2056784b1ebfebc0915b31453e7eb30386d753a1a9d4115b745c515eb1c743e3',
  15: '57026342304cb5669248c6fb4522daa4fa4da3434ed65ddd5d15e74f194cca59',
  16: '22a0c2869ea638c03d8ced5bd6d5e0b497154bcb99759fe1aa846b0c290ef1fd',
  17: '5ef818c795b9f7da741e4cf998d0c0945e0017c9d5b9951f97506fa7f9a67df6',
  21: '855f28d97ba1dbcb0a087b7def4567a72c270fbcdd14c5c5f62d93f5d3e58bf7',
  18: '8043b61edc4b7755d6c8ea43f051bc13f1e95e09f29af9befbe15e90e4b672eb',
};

describe('migrations', () => {
  it('run the same SQL text they shipped with', () => {
    for (const m of MIGRATIONS) {
      const sha256 = createHash('sha256').update(m.sql).digest('hex');
      expect({ version: m.version, sha256 }).toEqual({ version: m.version, sha256: SHIPPED[m.version] });
    }
  });
});
