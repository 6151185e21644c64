DROP INDEX audit_events_sign_in_failed_idx;
DROP INDEX personal_api_keys_expiry_idx;
ALTER TABLE personal_api_keys DROP COLUMN expires_at, DROP COLUMN last_used_ip,
    DROP COLUMN expiry_reminded_at;
ALTER TABLE organizations DROP COLUMN require_two_factor;
DELETE FROM account_tokens WHERE purpose = 'change_email';
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password'));
DROP TABLE recovery_codes;
ALTER TABLE users DROP COLUMN totp_secret, DROP COLUMN totp_enabled_at,
    DROP COLUMN totp_last_step, DROP COLUMN pending_email;
