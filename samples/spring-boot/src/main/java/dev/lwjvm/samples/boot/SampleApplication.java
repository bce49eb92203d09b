package dev.lwjvm.samples.boot;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** A Spring MVC application with one endpoint and the actuator's health endpoint. */
@SpringBootApplication
@RestController
public class SampleApplication {

    public static void main(String[] args) {
        SpringApplication.run(SampleApplication.class, args);
    }

    /** GET /hello?name=N: a greeting that also says which kernel and Java answered. */
    @GetMapping("/hello")
    public String hello(@RequestParam(defaultValue = "world") String name) {
        return "Hello, " + name + ", from Spring Boot on " + System.getProperty("os.name") + " "
                + System.getProperty("os.version") + ", Java " + Runtime.version() + "\n";
    }
}
