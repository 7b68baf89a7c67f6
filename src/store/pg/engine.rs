//! The PostgreSQL engine behind [`Store`]: its transactions' savepoints and reads, and the
//! engine's core (the tables' traits are in their own rooms).

use super::*;

impl TxCore for PgTx<'_> {
    fn savepoint(&self) -> Result<(), StoreError> {
        self.db.batch("SAVEPOINT message")
    }

    fn release(&self) -> Result<(), StoreError> {
        self.db.batch("RELEASE SAVEPOINT message")
    }

    fn rollback_to_savepoint(&self) -> Result<(), StoreError> {
        self.db
            .batch("ROLLBACK TO SAVEPOINT message; RELEASE SAVEPOINT message")
    }

    fn read(&self) -> Reader<'_> {
        Box::new(PgTx::read(self))
    }
}

impl EngineCore for PgStore {
    fn reader(&self) -> Reader<'_> {
        Box::new(self.read())
    }

    fn write_tx(
        &mut self,
        f: &mut dyn FnMut(&Tx<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(|tx| f(tx))
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.version()
    }
}
