//! A fresh database per test, dropped when the test ends (passed or failed).

use sqlx::Connection;

/// Where test databases are made: `TEST_DATABASE_URL`, without a database name.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database name for one test, on `server`. The service creates it (create-when-missing);
/// dropping this guard drops it, whoever still holds connections to it.
pub struct TestDatabase {
    server: String,
    pub name: String,
}

impl TestDatabase {
    pub fn on(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            name: format!("test_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = format!("{}/postgres", self.server);
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread and a
        // runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                // The name is ours (test_<uuid>), quoted: nothing outside the test chose it.
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}
