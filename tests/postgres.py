"""The tests' PostgreSQL: a throwaway server (devtools.local_postgres), one per test worker."""

from devtools.local_postgres import LocalPostgres, postgres_bin_dir

__all__ = ["LocalPostgres", "postgres_bin_dir"]
