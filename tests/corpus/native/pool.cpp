// A C++17 thread pool: std::thread workers, a mutex and condition variable, futures carrying
// results and exceptions (4 of 64 tasks throw). The corpus runs it in the guest against the host
// (tests/guest/test_real_software.py) and times it (python -m lwjvm.baseline --only corpus).
#include <future>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>
#include <mutex>
#include <condition_variable>
#include <queue>
#include <functional>

class Pool {
    std::vector<std::thread> workers;
    std::queue<std::function<void()>> tasks;
    std::mutex m;
    std::condition_variable cv;
    bool stop = false;
public:
    explicit Pool(int n) {
        for (int i = 0; i < n; i++)
            workers.emplace_back([this] {
                for (;;) {
                    std::function<void()> t;
                    {
                        std::unique_lock<std::mutex> l(m);
                        cv.wait(l, [this] { return stop || !tasks.empty(); });
                        if (stop && tasks.empty()) return;
                        t = std::move(tasks.front());
                        tasks.pop();
                    }
                    t();
                }
            });
    }
    template <class F> auto submit(F f) -> std::future<decltype(f())> {
        auto p = std::make_shared<std::packaged_task<decltype(f())()>>(f);
        { std::lock_guard<std::mutex> l(m); tasks.emplace([p] { (*p)(); }); }
        cv.notify_one();
        return p->get_future();
    }
    ~Pool() {
        { std::lock_guard<std::mutex> l(m); stop = true; }
        cv.notify_all();
        for (auto &w : workers) w.join();
    }
};

int main() {
    Pool pool(4);
    std::vector<std::future<long>> results;
    for (long k = 0; k < 64; k++)
        results.push_back(pool.submit([k] {
            if (k % 16 == 5) throw std::runtime_error("task " + std::to_string(k) + " failed");
            std::vector<long> v(10000);
            std::iota(v.begin(), v.end(), k);
            return std::accumulate(v.begin(), v.end(), 0L);
        }));
    long total = 0;
    int errors = 0;
    for (auto &f : results) {
        try { total += f.get(); }
        catch (const std::exception &e) { errors++; std::cout << "caught: " << e.what() << "\n"; }
    }
    std::cout << "total " << total << ", errors " << errors << "\n";
}
