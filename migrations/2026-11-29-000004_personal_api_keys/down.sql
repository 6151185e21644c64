DROP TABLE api_rate_windows;
DROP TABLE personal_api_keys;
