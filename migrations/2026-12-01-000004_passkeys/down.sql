DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
ALTER TABLE users DROP COLUMN webauthn_handle, DROP COLUMN passkey_count;
