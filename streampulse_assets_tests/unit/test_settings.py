"""The settings tree (lib/settings/): defaults, environment overrides, variable names, errors,
secrets, the config objects built from it, and the README tables generated from it."""

import re
from pathlib import Path

import pytest

from streampulse_assets.lib.alerts.gate import AlertGate
from streampulse_assets.lib.analysis.llm import DEFAULT_PRICES, LLMSettings
from streampulse_assets.lib.retention import WAREHOUSE_RETENTION_DAYS, RetentionPolicy
from streampulse_assets.lib.services.paths import REPO_ROOT
from streampulse_assets.lib.settings import (
    ChzzkSettings,
    GateSettings,
    Group,
    LanguageModelSettings,
    RetentionSettings,
    Settings,
    SettingsError,
    SoopSettings,
    StoresSettings,
    docs,
    env_name,
    get_settings,
    load_settings,
)
from streampulse_assets.lib.settings.base import is_group
from streampulse_assets.lib.settings.configs import (
    alert_gate,
    llm_settings,
    retention_policy,
    soop_config,
)
from streampulse_assets.lib.sources.chzzk import ChzzkConfig
from streampulse_assets.lib.sources.soop import SoopConfig

NOT_OURS = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "BRAVE_API_KEY", "TAVILY_API_KEY"}


def variables(cls: type[Group] = Settings, path: str = "") -> dict[str, str]:
    """{variable: dotted path in the tree} of every leaf field."""
    found: dict[str, str] = {}
    for name, field in cls.model_fields.items():
        if is_group(field.annotation):
            found |= variables(field.annotation, f"{path}{name}.")
        else:
            variable = env_name(cls, name)
            assert variable not in found, f"{variable} declared twice"
            found[variable] = f"{path}{name}"
    return found


def at(settings: Settings, path: str):
    value = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_every_variable_is_declared_once_with_its_full_name_and_a_description():
    found = variables()
    assert len(found) > 60
    for variable in found:
        assert variable.startswith("STREAMPULSE_") or variable in NOT_OURS, variable
        assert variable == variable.upper()
    for cls in _groups():
        for name, field in cls.model_fields.items():
            assert is_group(field.annotation) or field.description, f"{cls.__name__}.{name}"


def _groups(cls: type[Group] = Settings) -> list[type[Group]]:
    nested = [f.annotation for f in cls.model_fields.values() if is_group(f.annotation)]
    return [cls, *[g for child in nested for g in _groups(child)]]


def test_defaults():
    s = load_settings({})
    assert s.stores.pg_port == 54329 and s.stores.redis_port == 6389
    assert s.stores.postgres_url is None and s.stores.duckdb_memory_limit == "1GB"
    assert s.sources.names == "simulator"
    assert (s.sources.simulator.seed, s.sources.simulator.categories) == (7, 300)
    assert s.sources.simulator.scenario == "hard"
    assert s.partitions.bootstrap_days == 9 and s.partitions.start is None
    assert s.detection.primary_detector == "V3"
    assert s.dev.log_level == "INFO"
    assert s.quality.v3_precision_floor == 0.9 and s.quality.label_file_names() == []
    # The config objects built from the defaults are the code's own defaults.
    assert alert_gate(s.alerts.gate, s.detection) == AlertGate()
    assert retention_policy(s.retention) == RetentionPolicy()
    assert RetentionSettings.read({}).warehouse_days() == WAREHOUSE_RETENTION_DAYS
    assert soop_config(s.sources.soop) == SoopConfig()
    assert llm_settings(s.analysis.llm) == LLMSettings(api_key=None)
    assert llm_settings(s.analysis.llm).prices == DEFAULT_PRICES
    assert (s.sources.chzzk.base_url, s.sources.chzzk.max_pages) == (
        ChzzkConfig.base_url,
        ChzzkConfig.max_pages,
    )


def test_each_variable_reaches_its_place_in_the_tree():
    values = {
        "STREAMPULSE_PG_PORT": ("5999", "stores.pg_port", 5999),
        "STREAMPULSE_SOURCES": ("chzzk,soop", "sources.names", "chzzk,soop"),
        "STREAMPULSE_SIMULATOR_SEED": ("11", "sources.simulator.seed", 11),
        "STREAMPULSE_CHZZK_MAX_PAGES": ("7", "sources.chzzk.max_pages", 7),
        "STREAMPULSE_SOOP_LIVE_FALLBACK_URLS": ("", "sources.soop.live_fallback_urls", ""),
        "STREAMPULSE_PRIMARY_DETECTOR": ("LEARNED", "detection.primary_detector", "LEARNED"),
        "STREAMPULSE_ALERT_GATE": (" Delta ", "alerts.gate.mode", "delta"),
        "STREAMPULSE_ALERT_MIN_DELTA": ("500", "alerts.gate.min_delta", 500.0),
        "STREAMPULSE_RUN_RETENTION_DAYS": ("3", "retention.run_days", 3),
        "STREAMPULSE_RETENTION_RAW_SNAPSHOTS_DAYS": ("60", "retention.raw_snapshots_days", 60),
        "STREAMPULSE_QUALITY_WARMUP_DAYS": ("0", "quality.warmup_days", 0.0),
        "STREAMPULSE_LLM_WATCHER": ("Yes", "analysis.llm.watcher", True),
        "STREAMPULSE_LLM_PRICES": ('{"m": [1, 0.1, 2]}', "analysis.llm.prices", {"m": (1, 0.1, 2)}),
        "STREAMPULSE_SEARCH_PROVIDER": ("brave", "analysis.search.provider", "brave"),
        "OPENAI_BASE_URL": (
            "http://127.0.0.1:9/v1",
            "analysis.llm.base_url",
            "http://127.0.0.1:9/v1",
        ),
    }
    declared = variables()
    s = load_settings({k: raw for k, (raw, _, _) in values.items()})
    for variable, (_, path, expected) in values.items():
        assert declared[variable] == path
        assert at(s, path) == expected, variable


def test_blank_values_keep_the_defaults_where_the_old_readers_did():
    blank = {
        "STREAMPULSE_ALERT_MIN_DELTA": " ",
        "STREAMPULSE_CHZZK_BASE_URL": "",
        "STREAMPULSE_SOOP_DETAILS": "",
        "STREAMPULSE_RETENTION_LANDING_DAYS": "",
        "STREAMPULSE_LLM_MODEL_CHEAP": "",
    }
    s = load_settings(blank)
    assert s.alerts.gate.min_delta == 0.0
    assert s.sources.chzzk.base_url == "https://openapi.chzzk.naver.com"
    assert s.sources.soop.details == "broad_list"
    assert s.retention.landing_days == 14
    assert s.analysis.llm.model_cheap == "gpt-5-mini"
    assert soop_config(SoopSettings.read({"STREAMPULSE_SOOP_SEARCH_FALLBACK_URLS": ""})) == (
        SoopConfig(search_base_urls=("https://sch.sooplive.co.kr",))
    )


def test_get_settings_is_cached_and_follows_the_environment_after_a_clear(monkeypatch):
    monkeypatch.setenv("STREAMPULSE_SIMULATOR_CATEGORIES", "25")
    get_settings.cache_clear()
    try:
        first = get_settings()
        assert first.sources.simulator.categories == 25
        monkeypatch.setenv("STREAMPULSE_SIMULATOR_CATEGORIES", "30")
        assert get_settings() is first
        assert load_settings().sources.simulator.categories == 30  # read afresh
        get_settings.cache_clear()
        assert get_settings().sources.simulator.categories == 30
    finally:
        get_settings.cache_clear()


def test_groups_read_alone_follow_the_environment_at_call_time(monkeypatch, tmp_path):
    from streampulse_assets.lib.services.paths import state_dir

    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "a"))
    assert state_dir() == (tmp_path / "a").resolve()
    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "b"))
    assert state_dir() == (tmp_path / "b").resolve()
    monkeypatch.setenv("STREAMPULSE_ALERT_MAX_AGE_HOURS", "2")
    assert alert_gate().max_age_hours == 2.0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"STREAMPULSE_PG_PORT": "x"}, "STREAMPULSE_PG_PORT"),
        ({"STREAMPULSE_ALERT_MIN_DELTA": "lots"}, "STREAMPULSE_ALERT_MIN_DELTA"),
        ({"STREAMPULSE_RETENTION_LANDING_DAYS": "two weeks"}, "STREAMPULSE_RETENTION_LANDING_DAYS"),
        ({"STREAMPULSE_PRIMARY_DETECTOR": "V9"}, "STREAMPULSE_PRIMARY_DETECTOR"),
        ({"STREAMPULSE_QUALITY_V3_RECALL_FLOOR": "2"}, "STREAMPULSE_QUALITY_V3_RECALL_FLOOR"),
        ({"STREAMPULSE_LLM_PRICES": "nope"}, "STREAMPULSE_LLM_PRICES"),
        ({"STREAMPULSE_CHZZK_MAX_PAGES": "many"}, "STREAMPULSE_CHZZK_MAX_PAGES"),
    ],
)
def test_a_bad_value_names_its_variable(env, variable):
    with pytest.raises(SettingsError, match=variable) as err:
        load_settings(env)
    assert isinstance(err.value, ValueError)
    assert next(iter(env.values())) in str(err.value)  # and the value it could not take


def test_a_bad_value_fails_only_its_group():
    bad = {"STREAMPULSE_CHZZK_MAX_PAGES": "many"}
    assert SoopSettings.read(bad).details == "broad_list"
    with pytest.raises(SettingsError, match="STREAMPULSE_CHZZK_MAX_PAGES"):
        ChzzkSettings.read(bad)


def test_secrets_are_masked():
    env = {
        "STREAMPULSE_CHZZK_CLIENT_ID": "id",
        "STREAMPULSE_CHZZK_CLIENT_SECRET": "chzzk-s3cret",
        "OPENAI_API_KEY": "sk-s3cret",
        "STREAMPULSE_TELEGRAM_BOT_TOKEN": "tg-s3cret",
        "STREAMPULSE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/s3cret",
        "STREAMPULSE_ALERT_WEBHOOK_SECRET": "wh-s3cret",
        "BRAVE_API_KEY": "brave-s3cret",
    }
    s = load_settings(env)
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())
    assert s.sources.chzzk.client_secret.get_secret_value() == "chzzk-s3cret"
    assert llm_settings(s.analysis.llm).api_key == "sk-s3cret"
    # A secret's bad value is not echoed in the error.
    with pytest.raises(SettingsError) as err:
        LanguageModelSettings(api_key=["sk-s3cret"])
    assert "OPENAI_API_KEY" in str(err.value) and "s3cret" not in str(err.value)


def test_a_group_can_be_built_by_field_name():
    assert StoresSettings(pg_port=1234).pg_port == 1234
    assert GateSettings(mode="DELTA").mode == "delta"


def test_no_module_outside_the_tree_reads_streampulse_variables():
    pattern = re.compile(
        r"os\.getenv\(|environ\.get\(\s*f?[\"']STREAMPULSE_|environ\[\s*f?[\"']STREAMPULSE_\w*[\"']\s*\](?!\s*=)"
        r"|env\.get\(\s*f?[\"']STREAMPULSE_|OPENAI_API_KEY[\"']\s*\)"
    )
    settings_dir = REPO_ROOT / "streampulse_assets" / "lib" / "settings"
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{n}"
        for root in ("streampulse_assets", "bench")
        for path in sorted((REPO_ROOT / root).rglob("*.py"))
        if settings_dir not in path.parents
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_readme_tables_are_generated_from_the_tree(tmp_path):
    readme = Path(docs.README).read_text()
    assert docs.current(readme) == docs.render(), (
        "README.md's variable tables drifted from lib/settings/: run "
        "`python -m streampulse_assets.lib.settings.docs`"
    )
    for variable in variables():
        assert f"`{variable}`" in docs.current(readme)
    # The command rewrites a drifted README and --check then passes.
    copy = tmp_path / "README.md"
    copy.write_text(
        readme.replace("`STREAMPULSE_PG_PORT` | `54329`", "`STREAMPULSE_PG_PORT` | `1`")
    )
    assert docs.main(["--check"], readme=copy) == 1
    assert docs.main([], readme=copy) == 0
    assert docs.main(["--check"], readme=copy) == 0
    assert copy.read_text() == readme
