-- One pgbench transaction of the hash-chained baseline: 100 rows appended to `entries`, each
-- row's hash = sha256(previous hash || payload), the chain kept through the `head` row, which
-- is locked first (so appends are serialized, as a single writer's are) and updated in the
-- same transaction. Set up by chain.sh.
BEGIN;
SELECT seq FROM head WHERE id = 1 FOR UPDATE;
WITH RECURSIVE chain(n, seq, prev, hash) AS (
    SELECT 1, h.seq + 1, h.hash, sha256(h.hash || convert_to(payload(h.seq + 1), 'UTF8'))
    FROM head h WHERE h.id = 1
  UNION ALL
    SELECT c.n + 1, c.seq + 1, c.hash, sha256(c.hash || convert_to(payload(c.seq + 1), 'UTF8'))
    FROM chain c WHERE c.n < 100
), ins AS (
    INSERT INTO entries (seq, prev, hash, payload)
    SELECT seq, prev, hash, payload(seq) FROM chain
    RETURNING seq, hash
)
UPDATE head SET seq = last.seq, hash = last.hash
FROM (SELECT seq, hash FROM ins ORDER BY seq DESC LIMIT 1) AS last
WHERE head.id = 1;
END;
