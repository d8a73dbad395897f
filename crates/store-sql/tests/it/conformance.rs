//! The shared conformance suite, run on both backends.

mod sqlite {
    store::conformance_tests!(crate::common::sqlite_db);
}

mod postgres {
    store::conformance_tests!(crate::common::pg_db);
}
