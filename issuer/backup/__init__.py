"""The independent backup (issue 19; Art 77(5) of Regulation (EU) 2023/1542).

Primary side: `outbox` logs every write that changes what the backup copies, in its transaction;
`push` builds a snapshot (`snapshot`: a public part, a restricted part encrypted under the
snapshot key, signed with the instance key) and sends it with retries. Backup side (`dbp serve
--role backup`): `api` takes pushes, `store` verifies them, keeps every version and writes the
public part into the service's tables, which the read routes serve. `restore` rebuilds a new
primary's database from a snapshot (`dbp backup restore`). `restricted` answers the backup's
`/access` from the encrypted part, decrypted in memory, when the backup holds the snapshot key.
`tables` holds the three tables of both sides; `errors` their problem types.
"""
