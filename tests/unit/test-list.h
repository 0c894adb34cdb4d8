/*
 * test-list.h - every unit test, one TEST_ENTRY(name) per line.
 *
 * The runner includes this file to build its table, and tests/CMakeLists.txt
 * reads it at configure time to register each entry as its own CTest test;
 * configuring fails if a TEST_IMPL in the tests/unit sources is missing here (or
 * listed here but not defined). Keep one entry per line, grouped by module
 * in data-flow order.
 */
/* utf8 */
TEST_ENTRY(utf8_valid_sequences)
TEST_ENTRY(utf8_invalid_sequences)
TEST_ENTRY(utf8_roundtrip_all)
TEST_ENTRY(utf8_oracle_random)

/* log: the JSON line format */
TEST_ENTRY(log_json_fields)
TEST_ENTRY(log_json_escaping)
TEST_ENTRY(log_json_invalid_utf8)
TEST_ENTRY(log_json_truncation)
TEST_ENTRY(log_component)

/* simd: every vector level against the scalar path */
TEST_ENTRY(simd_levels)
TEST_ENTRY(simd_utf8_differential)
TEST_ENTRY(simd_event_differential)
TEST_ENTRY(simd_norm_differential)

/* buf */
TEST_ENTRY(buf_cap_enforced)
TEST_ENTRY(buf_json_escape)
TEST_ENTRY(buf_base64)
TEST_ENTRY(buf_integers)

/* event */
TEST_ENTRY(event_golden)
TEST_ENTRY(event_fields)
TEST_ENTRY(event_escapes)
TEST_ENTRY(event_views)
TEST_ENTRY(event_arena_limit)
TEST_ENTRY(event_skip_unknown)
TEST_ENTRY(event_strict_json)
TEST_ENTRY(event_type_escaped)
TEST_ENTRY(event_scalar_not_object)
TEST_ENTRY(event_json_syntax_oracle)
TEST_ENTRY(event_amount_parse)
TEST_ENTRY(event_currency_decimals)
TEST_ENTRY(event_time_and_money_bounds)

/* rules */
TEST_ENTRY(rules_valid)
TEST_ENTRY(rules_db_per_field)
TEST_ENTRY(rules_err_unknown_key)
TEST_ENTRY(rules_err_unknown_field)
TEST_ENTRY(rules_err_unknown_flag)
TEST_ENTRY(rules_err_bad_severity)
TEST_ENTRY(rules_err_missing_id)
TEST_ENTRY(rules_err_duplicate_id)
TEST_ENTRY(rules_err_hs_backref)
TEST_ENTRY(rules_err_hs_lookahead)
TEST_ENTRY(rules_err_invalid_utf8)
TEST_ENTRY(rules_err_yaml_syntax)
TEST_ENTRY(rules_err_empty_dir)
TEST_ENTRY(rules_err_bad_id)
TEST_ENTRY(rules_err_empty_match)
TEST_ENTRY(rules_err_all_reported)
TEST_ENTRY(rules_version)
TEST_ENTRY(rules_warning_only)
TEST_ENTRY(rules_err_language)
TEST_ENTRY(rules_list_parsing)
TEST_ENTRY(rules_err_huge_list)
TEST_ENTRY(rules_cache_recompiles_only_changed)
TEST_ENTRY(rulefile_confined)
TEST_ENTRY(rulefile_configmap_layout)
TEST_ENTRY(rulefile_load_refuses)

/* model: the text scorer and model terms */
TEST_ENTRY(model_features_golden)
TEST_ENTRY(model_features_check)
TEST_ENTRY(model_file_roundtrip)
TEST_ENTRY(model_file_damage_refused)
TEST_ENTRY(model_max_chars)
TEST_ENTRY(model_term_lazy)
TEST_ENTRY(model_term_model_only)
TEST_ENTRY(model_term_unmasked)
TEST_ENTRY(model_term_alert)
TEST_ENTRY(model_term_errors)
TEST_ENTRY(model_term_version_and_compiled)

/* profile */
TEST_ENTRY(profile_costs)

/* norm */
TEST_ENTRY(norm_golden)
TEST_ENTRY(norm_number)
TEST_ENTRY(norm_properties)
TEST_ENTRY(norm_oracle_random)
TEST_ENTRY(norm_no_upper_ascii)

/* skel: the skeleton view */
TEST_ENTRY(skel_golden)
TEST_ENTRY(skel_matches_icu)
TEST_ENTRY(skel_looks_latin_matches_icu)
TEST_ENTRY(skel_capital_i)
TEST_ENTRY(skel_no_upper_ascii)
TEST_ENTRY(skel_truncation)
TEST_ENTRY(skel_rules)
TEST_ENTRY(skel_rules_from_to_rejected)

/* url: the links of a text */
TEST_ENTRY(url_golden)
TEST_ENTRY(url_long_hosts)
TEST_ENTRY(url_punycode)
TEST_ENTRY(url_brands_errors)
TEST_ENTRY(url_texts)
TEST_ENTRY(url_scan_words_oracle)
TEST_ENTRY(url_rules)
TEST_ENTRY(url_rules_errors)

/* textfacts: what a text holds (text_flags, text_numbers) */
TEST_ENTRY(textfacts_golden)
TEST_ENTRY(textfacts_oracle_random)
TEST_ENTRY(textfacts_rules)
TEST_ENTRY(textfacts_rules_errors)

/* cond */
TEST_ENTRY(cond_truth_tables)
TEST_ENTRY(cond_three_valued)
TEST_ENTRY(cond_errors)

/* rule language */
TEST_ENTRY(rulelang_condition)
TEST_ENTRY(rulelang_list_modes_oracle)
TEST_ENTRY(rulelang_status_and_views)
TEST_ENTRY(rulelang_compiled_roundtrip)
TEST_ENTRY(rulelang_examples)

/* artifact, history: signed compiled rulesets, kept for rollback */
TEST_ENTRY(artifact_keygen_sign_verify)
TEST_ENTRY(artifact_unsigned_and_wrong_key_refused)
TEST_ENTRY(artifact_any_flipped_byte_refused)
TEST_ENTRY(artifact_splice_detected_without_key)
TEST_ENTRY(artifact_strict_file_checks)
TEST_ENTRY(history_keep_and_prune)

/* dbcache */
TEST_ENTRY(dbcache_roundtrip)
TEST_ENTRY(dbcache_keys_distinct)
TEST_ENTRY(dbcache_damage_rejected)
TEST_ENTRY(dbcache_truncated_and_oversized)
TEST_ENTRY(dbcache_foreign_rejected)
TEST_ENTRY(dbcache_untrusted_dir_refused)
TEST_ENTRY(dbcache_symlink_entry_refused)
TEST_ENTRY(dbcache_concurrent_stores)
TEST_ENTRY(dbcache_prune)
TEST_ENTRY(dbcache_off_and_default_dir)

/* matcher */
TEST_ENTRY(matcher_oracle)
TEST_ENTRY(matcher_field_scope)
TEST_ENTRY(matcher_prefilter_shortcuts)
TEST_ENTRY(matcher_confirm_alone)
TEST_ENTRY(matcher_deferred_regex)
TEST_ENTRY(matcher_truncated)
TEST_ENTRY(matcher_rebind)
TEST_ENTRY(matcher_text_flags_tokens)
TEST_ENTRY(matcher_text_numbers_lengths)

/* shadow revisions and rules promote */
TEST_ENTRY(shadow_pair_loads)
TEST_ENTRY(shadow_pair_errors)
TEST_ENTRY(shadow_pair_counters)
TEST_ENTRY(shadow_pair_examples)
TEST_ENTRY(promote_edit_golden)
TEST_ENTRY(promote_edit_diff)
TEST_ENTRY(promote_command)
TEST_ENTRY(promote_command_refuses_bad_result)
TEST_ENTRY(promote_command_refuses_changed_files)

/* pipeline */
TEST_ENTRY(pipeline_key_sms_normalised)
TEST_ENTRY(pipeline_key_call)
TEST_ENTRY(pipeline_key_transfer_report)
TEST_ENTRY(pipeline_key_types_separated)
TEST_ENTRY(pipeline_counts_disguised)

/* campaign */
TEST_ENTRY(campaign_key_variants)
TEST_ENTRY(hll_accuracy)
TEST_ENTRY(hll_merge)
TEST_ENTRY(campaigns_oracle)
TEST_ENTRY(campaigns_one_template)
TEST_ENTRY(campaigns_eviction)
TEST_ENTRY(campaigns_window_and_summaries)
TEST_ENTRY(campaigns_changelog_roundtrip)
TEST_ENTRY(campaigns_id_reuse_and_time)

/* watch */
TEST_ENTRY(watch_number_key)
TEST_ENTRY(watch_lookback_and_kinds)
TEST_ENTRY(watch_numbers_in_text)
TEST_ENTRY(watch_eviction_and_oracle)
TEST_ENTRY(watch_no_warning_from_the_future)

/* dedup */
TEST_ENTRY(dedup_oracle)
TEST_ENTRY(dedup_window_zero)
TEST_ENTRY(dedup_eviction)
TEST_ENTRY(dedup_memory)
TEST_ENTRY(dedup_changelog_oracle)
TEST_ENTRY(dedup_both_ways_in_time)

/* alert */
TEST_ENTRY(alert_encode)
TEST_ENTRY(alert_primary_rule)
TEST_ENTRY(alert_verdict_encode)
TEST_ENTRY(alert_deadletter_encode)
TEST_ENTRY(alert_primary_truncated)

/* privacy: masked, hashed and dropped outputs */
TEST_ENTRY(privacy_mask)
TEST_ENTRY(privacy_hash)
TEST_ENTRY(privacy_kafka_key)
TEST_ENTRY(privacy_every_field)
TEST_ENTRY(privacy_dead_letter)
TEST_ENTRY(privacy_campaign_sample)
TEST_ENTRY(privacy_config_errors)

/* ledger */
TEST_ENTRY(ledger_windows_late_invalid)
TEST_ENTRY(ledger_categories_and_money)
TEST_ENTRY(ledger_checkpoint_roundtrip)
TEST_ENTRY(ledger_record_roundtrip)
TEST_ENTRY(ledger_book_oracle)
TEST_ENTRY(ledger_money_sums_checked)
TEST_ENTRY(ledger_reserved_rows)
TEST_ENTRY(ledger_input_categories_bounded)
TEST_ENTRY(ledger_invalid_before_first_valid)
TEST_ENTRY(ledger_reopen_segments)
TEST_ENTRY(period_parse_offsets_dates)
TEST_ENTRY(period_months_and_leap_years)
TEST_ENTRY(period_iso_weeks_across_years)
TEST_ENTRY(period_book_sums)
TEST_ENTRY(period_money_format)

/* report page */
TEST_ENTRY(report_page_escapes_and_figures)
TEST_ENTRY(report_errors)

/* config */
TEST_ENTRY(config_defaults)
TEST_ENTRY(config_cli_beats_file)
TEST_ENTRY(config_file_errors)
TEST_ENTRY(config_cli_errors)
TEST_ENTRY(config_kafka_props)
TEST_ENTRY(config_list_option)
TEST_ENTRY(config_replay_positional)
TEST_ENTRY(config_safety_properties)
TEST_ENTRY(config_log_format_and_privacy)

/* checkpoint (stream): the restore's verdict on a checkpoint and its offset */
TEST_ENTRY(checkpoint_roundtrip)
TEST_ENTRY(checkpoint_offset_tag)
TEST_ENTRY(checkpoint_verdict)

/* route (stream) */
TEST_ENTRY(route_roundtrip)
TEST_ENTRY(route_damage_refused)
TEST_ENTRY(route_partitioner)
TEST_ENTRY(route_stores_use_every_set)

/* aggregates: behavioural rules' windows (state/agg.h) */
TEST_ENTRY(agg_exact_below_bound)
TEST_ENTRY(agg_threshold_and_rearm)
TEST_ENTRY(agg_window_slides)
TEST_ENTRY(agg_median_condition)
TEST_ENTRY(agg_sketch_above_bound)
TEST_ENTRY(agg_eviction_and_budget)
TEST_ENTRY(agg_changelog_roundtrip)
TEST_ENTRY(agg_changelog_hostile)
TEST_ENTRY(agg_uses_every_set)
TEST_ENTRY(aggrule_durations)
TEST_ENTRY(route_aggregate_record)

/* ops: metrics format and HTTP endpoints */
TEST_ENTRY(prom_labels_escaped)
TEST_ENTRY(prom_histogram_cumulative)
TEST_ENTRY(http_address_parse)
TEST_ENTRY(http_endpoints)

/* prefilter */
TEST_ENTRY(prefilter_golden)
TEST_ENTRY(prefilter_oracle)
TEST_ENTRY(prefilter_exact_golden)
TEST_ENTRY(prefilter_exact_oracle)
TEST_ENTRY(prefilter_split_golden)
TEST_ENTRY(prefilter_split_oracle)
TEST_ENTRY(prefilter_shipped_rules)
TEST_ENTRY(rulesdiff_rematch_oracle)
TEST_ENTRY(rulesdiff_counts_oracle)
TEST_ENTRY(rulesdiff_rule_changes)
TEST_ENTRY(rulesdiff_shadow_revisions)
TEST_ENTRY(rulesdiff_examples_cleaned)
TEST_ENTRY(rulesdiff_kafka_where)
TEST_ENTRY(gitrules_rev_ok)
