"""What HR records beside the terminals' check-ins, in the receiver's database: approved leave
and excused absence, and supervisors' corrections (added and voided check-ins), with the import
of leave files. The tables are created by :mod:`central.receiver.schema` (migration 5); the
reports read them through :class:`central.records.store.RecordsStore`.

May import :mod:`central.db`, :mod:`central.receiver.schema`, :mod:`common` and :mod:`models`.
"""
