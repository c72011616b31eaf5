"""The building block of the settings tree: a `Group` of environment variables.

Every field names its variable in full (`validation_alias`), so a grep for the variable finds its
declaration; `var()` declares one with its default, description and the default the README shows.
A group reads `os.environ` when it is built, or the mapping given to `Group.read(env)` (tests),
and nested groups read the same source. A bad value raises `SettingsError` naming the variable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("streampulse_settings_env", default=None)


class SettingsError(ValueError):
    """A variable holds a value its setting cannot take; the message names the variable."""


def var(name: str, default: Any, description: str, *, shown: str | None = None, **kw) -> Any:
    """A field read from the environment variable `name`; `shown` = the README's default text."""
    extra = {"shown_default": shown} if shown is not None else None
    return Field(
        default, validation_alias=name, description=description, json_schema_extra=extra, **kw
    )


def group(cls: type[Group]) -> Any:
    """A nested group, built (from the same environment) when its parent is."""
    return Field(default_factory=cls)


class _Environment(EnvSettingsSource):
    """os.environ, or the mapping `Group.read` was given; nested groups are never read here."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENV.get()
        if env is None:
            return super()._load_env_vars()
        return parse_env_vars(
            env, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if is_group(field.annotation):
            return None, field_name, False
        return super().get_field_value(field, field_name)


def is_group(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Group)


class Group(BaseSettings):
    """A set of related variables. `blank_is_unset`: values are stripped and a blank one means
    the default (as the readers it replaced did), except for the fields named in `keep_blank`."""

    model_config = SettingsConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)
    blank_is_unset: ClassVar[bool] = False
    keep_blank: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(describe(type(self), exc)) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_defaults):
        return (init_settings, _Environment(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if not cls.blank_is_unset or not isinstance(data, dict):
            return data
        keep = {env_name(cls, name) for name in cls.keep_blank} | set(cls.keep_blank)
        values = {}
        for key, value in data.items():
            if isinstance(value, str) and key not in keep:
                value = value.strip()
                if not value:
                    continue
            values[key] = value
        return values

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> Self:
        """The group as the environment (or `env`, e.g. a test's dict) configures it now."""
        with reading(env):
            return cls()


@contextmanager
def reading(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENV.set(env)
    try:
        yield
    finally:
        _ENV.reset(token)


def env_name(cls: type[Group], field_name: str) -> str:
    """The environment variable of a group's field."""
    alias = cls.model_fields[field_name].validation_alias
    return alias if isinstance(alias, str) else field_name


def describe(cls: type[Group], exc: ValidationError) -> str:
    by_alias = {env_name(cls, name): name for name in cls.model_fields}
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        name = by_alias.get(key, key)
        field = cls.model_fields.get(name)
        variable = env_name(cls, name) if field else key
        secret = field is not None and field.annotation in (SecretStr, SecretStr | None)
        value = "" if secret or "input" not in error else f"={error['input']!r}"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{variable}{value}: {message}")
    return "; ".join(lines)
