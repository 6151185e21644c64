-- Emails a visitor can make Gatehouse send: one row per request, so at most a few go to one
-- address, or out at the request of one IP (or IPv6 /64), per window. `kind` keeps the "someone
-- tried to sign up with your address" notices from using up an address's budget of
-- verification and reset emails.
CREATE TABLE email_requests (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'notice')),
    recipient TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX email_requests_recipient_idx ON email_requests (recipient, kind, created_at);
CREATE INDEX email_requests_ip_idx ON email_requests (ip, created_at);
