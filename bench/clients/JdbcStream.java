// One JDBC client at its default settings: one connection, one query after another until stdin
// closes, each outcome printed as a line ("ok <epoch ms>" or "failed <epoch ms> <reason>").
// Run as a single-file source program: java -cp trino-jdbc.jar JdbcStream.java <jdbc-url> <sql>
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

public class JdbcStream {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        String sql = args[1];
        long pauseMillis = Long.parseLong(args[2]);
        Thread stopper = new Thread(() -> {
            try {
                while (System.in.read() != -1) { }
            } catch (Exception ignored) { }
            System.exit(0);
        });
        stopper.setDaemon(true);
        stopper.start();
        try (Connection connection = DriverManager.getConnection(url, "jdbc", null)) {
            while (true) {
                long started = System.currentTimeMillis();
                try (Statement statement = connection.createStatement();
                        ResultSet rows = statement.executeQuery(sql)) {
                    rows.next();
                    long count = rows.getLong(1);
                    System.out.println(count == 15000 ? "ok " + started : "failed " + started + " wrong answer " + count);
                } catch (Exception e) {
                    System.out.println("failed " + started + " " + e.toString().replace('\n', ' '));
                }
                System.out.flush();
                Thread.sleep(pauseMillis);
            }
        }
    }
}
