# Type stubs for ml_collections (which ships none): ConfigDict fields are
# attributes of any type, read with plain attribute access.
from ml_collections import config_dict as config_dict
from ml_collections.config_dict import ConfigDict as ConfigDict
from ml_collections.config_dict import FieldReference as FieldReference
from ml_collections.config_dict import FrozenConfigDict as FrozenConfigDict
