/* SQLite (Debian's libsqlite3) on a volume, for tests/guest/test_volume_apps.py:
 *   sqlite_crash DB wal|delete    inserts rows in transactions of 10, printing "committed N"
 *                                 after each COMMIT returned, until killed: synchronous=FULL in
 *                                 WAL mode, EXTRA in DELETE mode (FULL does not sync the
 *                                 directory after the journal's unlink, which is the commit:
 *                                 SQLite documents that a crash then may roll the last
 *                                 transaction back, on Linux's file systems as on a volume)
 *   sqlite_crash DB check         PRAGMA integrity_check and the rows: "integrity ok rows N"
 * The rows are 0..N-1 with a payload derived from the id, so a check also sees wrong data. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(sqlite3 *db, const char *what)
{
    printf("FAILED %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        die(db, "open");
    if (!strcmp(argv[2], "check")) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, 0) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW)
            die(db, "integrity_check");
        char verdict[64];
        snprintf(verdict, sizeof verdict, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (sqlite3_prepare_v2(db, "SELECT id, v FROM t ORDER BY id", -1, &st, 0) != SQLITE_OK)
            die(db, "select");
        long n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char want[64];
            snprintf(want, sizeof want, "row-%ld-%ld", n, n * 7919 % 1000003);
            if (sqlite3_column_int64(st, 0) != n || strcmp((const char *)sqlite3_column_text(st, 1), want)) {
                printf("FAILED row %ld\n", n);
                return 1;
            }
            n++;
        }
        if (rc != SQLITE_DONE)
            die(db, "step");
        sqlite3_finalize(st);
        printf("integrity %s rows %ld\n", verdict, n);
        return 0;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA journal_mode=%s", argv[2]);
    if (sqlite3_exec(db, pragma, 0, 0, 0) != SQLITE_OK ||
        sqlite3_exec(db, strcmp(argv[2], "delete") ? "PRAGMA synchronous=FULL"
                                                   : "PRAGMA synchronous=EXTRA",
                     0, 0, 0) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)", 0, 0,
                     0) != SQLITE_OK)
        die(db, "setup");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, 0) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        die(db, "count");
    long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &st, 0) != SQLITE_OK)
        die(db, "prepare");
    for (;;) {
        if (sqlite3_exec(db, "BEGIN", 0, 0, 0) != SQLITE_OK)
            die(db, "begin");
        for (int k = 0; k < 10; k++, n++) {
            char v[64];
            snprintf(v, sizeof v, "row-%ld-%ld", n, n * 7919 % 1000003);
            sqlite3_bind_int64(st, 1, n);
            sqlite3_bind_text(st, 2, v, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE)
                die(db, "insert");
            sqlite3_reset(st);
        }
        if (sqlite3_exec(db, "COMMIT", 0, 0, 0) != SQLITE_OK)
            die(db, "commit");
        printf("committed %ld\n", n);
        fflush(stdout);
    }
}
