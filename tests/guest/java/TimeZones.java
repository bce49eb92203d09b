import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.TimeZone;

/** Time zones from the runtime's tzdb: offsets in winter and summer, a DST gap, formatting. */
public class TimeZones {
    public static void main(String[] args) {
        Instant winter = Instant.parse("2024-01-15T12:00:00Z");
        Instant summer = Instant.parse("2024-07-15T12:00:00Z");
        for (String id : new String[] {"Europe/Paris", "America/New_York", "Asia/Kolkata"}) {
            ZoneId z = ZoneId.of(id);
            System.out.println(id + ": winter " + z.getRules().getOffset(winter)
                    + ", summer " + z.getRules().getOffset(summer));
        }
        ZonedDateTime t = ZonedDateTime.ofInstant(summer, ZoneId.of("Europe/Paris"));
        System.out.println("formatted: " + t.format(DateTimeFormatter.ISO_ZONED_DATE_TIME));
        System.out.println("zone ids known: " + (ZoneId.getAvailableZoneIds().size() > 400));
        TimeZone.setDefault(TimeZone.getTimeZone("UTC"));
        System.out.println("default now: " + TimeZone.getDefault().getID());
    }
}
