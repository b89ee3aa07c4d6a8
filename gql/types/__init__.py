"""Strawberry types, one module per aggregate, mapped from the SQLModel Read models."""

from gql.types import enums as enums  # registers the domain enums as GraphQL enums first
