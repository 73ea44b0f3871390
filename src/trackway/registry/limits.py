"""The documented input limits of the registry API, in one place.

The proto comments state the same numbers. MLflow's registry limits are the floor:
names 256 characters, tags 250/5,000, descriptions 5,000, aliases 255.
"""

MAX_MODEL_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 5000
MAX_TAG_VALUE_LENGTH = 5000
MAX_ALIAS_LENGTH = 255
MAX_SOURCE_LENGTH = 1000
MAX_RUN_LINK_LENGTH = 500
# A resolved location is a run's artifact URI (at most 1,000) plus a runs:/ path (under
# 1,000), so locations, and URIs to resolve, get room for both.
MAX_URI_LENGTH = 2048
MAX_INITIAL_TAGS = 100

SEARCH_MODELS_DEFAULT_PAGE = 100
SEARCH_MODELS_MAX_PAGE = 1000
SEARCH_VERSIONS_DEFAULT_PAGE = 1000
SEARCH_VERSIONS_MAX_PAGE = 50_000
