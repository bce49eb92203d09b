import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;

/** H2 in file mode on a volume (tests/guest/test_volume_apps.py). "write": inserts rows in
 * transactions of 50 and after each commit runs CHECKPOINT SYNC, printing "synced N" (rows
 * 0..N-1 durable), until killed. "check": H2's SCRIPT over every table, then every row read and
 * compared: "ok rows N". */
public class H2Crash {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:h2:/data/h2db", "sa", "")) {
            Statement s = c.createStatement();
            if (args[0].equals("check")) {
                try (ResultSet rs = s.executeQuery("SCRIPT")) {
                    while (rs.next()) {
                        rs.getString(1);
                    }
                }
                long i = 0;
                try (ResultSet rs = s.executeQuery("SELECT ID, V FROM T ORDER BY ID")) {
                    while (rs.next()) {
                        if (rs.getLong(1) != i || !rs.getString(2).equals("row-" + i)) {
                            System.out.println("FAILED row " + i);
                            System.exit(1);
                        }
                        i++;
                    }
                }
                System.out.println("ok rows " + i);
                return;
            }
            s.execute("CREATE TABLE IF NOT EXISTS T(ID BIGINT PRIMARY KEY, V VARCHAR(64))");
            long n;
            try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM T")) {
                rs.next();
                n = rs.getLong(1);
            }
            c.setAutoCommit(false);
            PreparedStatement p = c.prepareStatement("INSERT INTO T VALUES (?, ?)");
            while (true) {
                for (int k = 0; k < 50; k++, n++) {
                    p.setLong(1, n);
                    p.setString(2, "row-" + n);
                    p.executeUpdate();
                }
                c.commit();
                s.execute("CHECKPOINT SYNC");
                System.out.println("synced " + n);
                System.out.flush();
            }
        }
    }
}
