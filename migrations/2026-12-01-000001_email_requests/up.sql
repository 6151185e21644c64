-- Emails a visitor can make Gatehouse send (verification, password reset, "someone tried to sign
-- up with your address"): one row per email, so at most a few go to one address, or out at the
-- request of one IP, per window.
CREATE TABLE email_requests (
    id BIGSERIAL PRIMARY KEY,
    recipient TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX email_requests_recipient_idx ON email_requests (recipient, created_at);
CREATE INDEX email_requests_ip_idx ON email_requests (ip, created_at);
