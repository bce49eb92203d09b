package dev.lwjvm.corpus;

import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.stereotype.Service;

/** A Spring Boot CommandLineRunner: component scan, a @Value property, an injected service, the
 *  application's arguments and an async computation, printed so the host and the guest compare. */
@SpringBootApplication
public class SpringRunnerDemo {

    public static void main(String[] args) {
        SpringApplication.run(SpringRunnerDemo.class, args);
    }

    @Service
    public static class Primes {
        public List<Integer> below(int n) {
            return IntStream.range(2, n).filter(i -> IntStream.rangeClosed(2, (int) Math.sqrt(i))
                    .noneMatch(d -> i % d == 0)).boxed().collect(Collectors.toList());
        }
    }

    @Bean
    CommandLineRunner runner(Primes primes, ApplicationContext ctx, ApplicationArguments args,
                             @Value("${corpus.greeting}") String greeting) {
        return a -> {
            System.out.println(greeting);
            System.out.println("application: " + ctx.getId());
            System.out.println("options: " + new TreeSet<>(args.getOptionNames())
                    + " non-option: " + args.getNonOptionArgs());
            List<Integer> p = CompletableFuture.supplyAsync(() -> primes.below(20000)).join();
            System.out.println("primes below 20000: " + p.size() + ", last " + p.get(p.size() - 1));
            System.out.println("our beans: " + new TreeSet<>(List.of(ctx.getBeanNamesForType(
                    Primes.class))) + " runner=" + ctx.containsBean("runner"));
        };
    }
}
