// @generated shape of `diesel print-schema`; keep in step with migrations/.

diesel::table! {
    account_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        purpose -> Text,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        organization_id -> Nullable<Int8>,
        organization_name -> Nullable<Text>,
        actor_kind -> Text,
        actor_user_id -> Nullable<Int8>,
        actor_label -> Text,
        action -> Text,
        target -> Nullable<Text>,
        details -> Jsonb,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    config_values (id) {
        id -> Int8,
        environment_id -> Int8,
        organization_id -> Int8,
        key -> Text,
        value -> Text,
        secret -> Bool,
        created_by -> Nullable<Int8>,
        updated_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    email_requests (id) {
        id -> Int8,
        kind -> Text,
        recipient -> Text,
        ip -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    environment_api_keys (id) {
        id -> Int8,
        environment_id -> Int8,
        organization_id -> Int8,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Int8,
        user_id -> Int8,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Int8,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    environment_roles (environment_id, user_id) {
        environment_id -> Int8,
        organization_id -> Int8,
        user_id -> Int8,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    environments (id) {
        id -> Int8,
        organization_id -> Int8,
        kind -> Text,
    }
}

diesel::table! {
    invitations (id) {
        id -> Int8,
        organization_id -> Int8,
        email -> Text,
        role -> Text,
        environment_roles -> Jsonb,
        token_hash -> Bytea,
        status -> Text,
        invited_by -> Nullable<Int8>,
        invited_by_name -> Text,
        expires_at -> Timestamptz,
        last_sent_at -> Timestamptz,
        send_count -> Int4,
        outbox_id -> Nullable<Int8>,
        responded_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    memberships (organization_id, user_id) {
        organization_id -> Int8,
        user_id -> Int8,
        role -> Text,
        created_at -> Timestamptz,
        sort_name -> Text,
        env_roles -> Text,
        org_name -> Text,
    }
}

diesel::table! {
    organizations (id) {
        id -> Int8,
        name -> Text,
        slug -> Text,
        status -> Text,
        created_at -> Timestamptz,
        require_two_factor -> Bool,
        member_count -> Int4,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Int8,
        user_id -> Int8,
        name -> Text,
        credential_id -> Bytea,
        credential -> Jsonb,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    personal_api_keys (id) {
        id -> Int8,
        user_id -> Int8,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
        last_used_ip -> Nullable<Text>,
        expiry_reminded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Bytea,
        user_id -> Nullable<Int8>,
        state -> Jsonb,
        expires_at -> Timestamptz,
        sid -> Nullable<Text>,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> Int8,
        email -> Text,
        ip -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    sign_in_locks (key) {
        key -> Text,
        locked_until -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        email_verified_at -> Nullable<Timestamptz>,
        is_operator -> Bool,
        last_sign_in_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        totp_secret -> Nullable<Bytea>,
        totp_enabled_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
        pending_email -> Nullable<Text>,
        webauthn_handle -> Nullable<Bytea>,
        passkey_count -> Int4,
    }
}

diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(environment_roles -> users (user_id));
diesel::joinable!(environments -> organizations (organization_id));
diesel::joinable!(invitations -> organizations (organization_id));
diesel::joinable!(invitations -> email_outbox (outbox_id));
diesel::joinable!(memberships -> organizations (organization_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(personal_api_keys -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_tokens,
    audit_events,
    config_values,
    email_outbox,
    email_requests,
    environment_api_keys,
    environment_roles,
    environments,
    invitations,
    memberships,
    organizations,
    passkeys,
    personal_api_keys,
    recovery_codes,
    sessions,
    sign_in_failures,
    sign_in_locks,
    users,
    webauthn_challenges,
);

diesel::table! {
    webauthn_challenges (token_hash) {
        token_hash -> Bytea,
        user_id -> Nullable<Int8>,
        purpose -> Text,
        state -> Jsonb,
        expires_at -> Timestamptz,
    }
}
