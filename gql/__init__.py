"""The GraphQL layer and the application."""

# The domain enums become GraphQL enums (with descriptions) before any type uses them;
# strawberry would otherwise register them on first use without descriptions, then again.
from gql.types import enums as _enums  # noqa: F401
