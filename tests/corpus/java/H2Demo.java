import java.nio.file.*;
import java.sql.*;

/** H2 in file mode: a table of N rows written in batches, queried, closed and reopened. */
public class H2Demo {
    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 20000;
        Path dir = Files.createTempDirectory("h2");
        String url = "jdbc:h2:" + dir.resolve("db").toAbsolutePath();
        try (Connection c = DriverManager.getConnection(url, "sa", "")) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE item(id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2))");
            }
            try (PreparedStatement p = c.prepareStatement("INSERT INTO item VALUES (?, ?, ?)")) {
                for (int i = 0; i < rows; i++) {
                    p.setInt(1, i);
                    p.setString(2, "item-" + (i % 97));
                    p.setBigDecimal(3, java.math.BigDecimal.valueOf(i % 1000, 2));
                    p.addBatch();
                    if (i % 1000 == 999) p.executeBatch();
                }
                p.executeBatch();
            }
        }
        try (Connection c = DriverManager.getConnection(url, "sa", "");
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery(
                 "SELECT COUNT(*), SUM(price), COUNT(DISTINCT name), MAX(id) FROM item WHERE name LIKE 'item-1%'")) {
            r.next();
            System.out.println("rows " + r.getLong(1) + " sum " + r.getBigDecimal(2) + " names " + r.getInt(3) + " max " + r.getInt(4));
        }
        try (Connection c = DriverManager.getConnection(url, "sa", "");
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT name, COUNT(*) n FROM item GROUP BY name ORDER BY n DESC, name LIMIT 3")) {
            while (r.next()) System.out.println(r.getString(1) + " " + r.getInt(2));
        }
    }
}
