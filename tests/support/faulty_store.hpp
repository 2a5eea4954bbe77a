#pragma once
// FaultyStore wraps a real ObjectStore and injects failures, so every failure path
// of the code above the seam can be tested (the leveldb FaultInjection idea).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "store/object_store.hpp"

namespace k9::test {

class FaultyStore final : public store::ObjectStore {
  public:
    enum class Op { Get, Put, Head, List, Remove };

    explicit FaultyStore(std::shared_ptr<store::ObjectStore> inner) : inner_(std::move(inner)) {}

    // Every call of `op` throws StoreError(kind) before reaching the inner store.
    void fail(Op op, store::ErrorKind kind) { rules_[static_cast<int>(op)] = Rule{kind, false}; }
    // Puts reach the inner store, then throw `kind` (a lost response).
    void fail_after_put(store::ErrorKind kind) {
        rules_[static_cast<int>(Op::Put)] = Rule{kind, true};
    }
    void heal() {
        for (auto& r : rules_) r.reset();
    }
    int calls(Op op) const { return calls_[static_cast<int>(op)]; }

    store::ObjectInfo get_file(const std::string& key, const std::filesystem::path& dest,
                               const store::GetOptions& options = {}) override {
        before(Op::Get);
        return inner_->get_file(key, dest, options);
    }
    std::string get_bytes(const std::string& key, store::ObjectInfo* info = nullptr) override {
        before(Op::Get);
        return inner_->get_bytes(key, info);
    }
    store::ObjectInfo put_file(const std::filesystem::path& src, const std::string& key,
                               const store::PutOptions& options = {}) override {
        before(Op::Put);
        auto info = inner_->put_file(src, key, options);
        after_put();
        return info;
    }
    store::ObjectInfo put_bytes(std::string_view bytes, const std::string& key,
                                const store::PutOptions& options = {}) override {
        before(Op::Put);
        auto info = inner_->put_bytes(bytes, key, options);
        after_put();
        return info;
    }
    store::ObjectInfo head(const std::string& key) override {
        before(Op::Head);
        return inner_->head(key);
    }
    std::vector<store::ObjectInfo> list(const std::string& prefix,
                                        const std::string& start_after = {},
                                        std::size_t max_keys = 0) override {
        before(Op::List);
        return inner_->list(prefix, start_after, max_keys);
    }
    void remove(const std::string& key) override {
        before(Op::Remove);
        inner_->remove(key);
    }
    std::vector<store::VersionInfo> list_versions(const std::string& key) override {
        before(Op::List);
        return inner_->list_versions(key);
    }
    std::vector<store::VersionInfo> list_all_versions(const std::string& prefix) override {
        before(Op::List);
        return inner_->list_all_versions(prefix);
    }
    std::string url_for(const std::string& key) const override { return inner_->url_for(key); }
    std::string display_name() const override { return inner_->display_name(); }

  private:
    struct Rule {
        store::ErrorKind kind;
        bool after;
    };
    void before(Op op) {
        ++calls_[static_cast<int>(op)];
        const auto& rule = rules_[static_cast<int>(op)];
        if (rule && !rule->after) throw store::StoreError(rule->kind, "injected fault");
    }
    void after_put() {
        const auto& rule = rules_[static_cast<int>(Op::Put)];
        if (rule && rule->after)
            throw store::StoreError(rule->kind, "injected fault after the put");
    }

    std::shared_ptr<store::ObjectStore> inner_;
    std::optional<Rule> rules_[5];
    std::atomic<int> calls_[5] = {};
};

}  // namespace k9::test
