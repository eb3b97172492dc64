from typing import Any

def DEFINE_config_file(name: str, default: str | None = ...,
                       help_string: str = ..., flag_values: Any = ...,
                       lock_config: bool = ...,
                       accept_new_attributes: bool = ...,
                       sys_argv: Any = ..., **kwargs: Any) -> Any: ...
