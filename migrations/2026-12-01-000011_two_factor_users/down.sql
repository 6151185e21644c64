DROP INDEX users_two_factor_idx;
