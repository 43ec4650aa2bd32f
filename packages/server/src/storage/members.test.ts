import { describe, expect, it } from 'vitest';
import { ROLE_RANK, roleRankSql } from './members.ts';

describe('role ranking (written once)', () => {
  it('ranks owner > admin > moderator > member', () => {
    expect(ROLE_RANK.owner).toBeGreaterThan(ROLE_RANK.admin);
    expect(ROLE_RANK.admin).toBeGreaterThan(ROLE_RANK.moderator);
    expect(ROLE_RANK.moderator).toBeGreaterThan(ROLE_RANK.member);
  });

  it('gives SQL the same ranking, for ORDER BY', () => {
    expect(roleRankSql('cm')).toBe(`CASE cm.role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'moderator' THEN 1 ELSE 0 END`);
  });
});
