DROP TABLE personal_api_keys;
