DROP INDEX environment_roles_env_idx;
DROP TABLE environment_api_keys;
DROP TABLE config_values;
