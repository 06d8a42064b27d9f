/* The store interface's conformance suite (include/leec/store.h): one set of
 * tests that any backend runs through a factory of its stores. The
 * filesystem backend runs it in make check (test_store_conformance_fs.c);
 * a new backend (PostgreSQL) gets a test program of the same shape.
 *
 * Every test starts from an empty store (fresh), may open a second store on
 * the same data (again: what another process would open), and ends with
 * wipe. The suite calls the library's functions, as the engine does, so it
 * checks what the library guarantees on top of a backend too (names,
 * sizes). With inject, it also fails the backend's writes one by one: the
 * n-th write of an operation fails, for n = 1, 2, ... until the operation
 * makes fewer than n writes, and after each failure the store must hold
 * the previous state whole, show nothing of the failed one, and take the
 * next operation. */
#ifndef LEEC_TESTS_STORE_CONFORMANCE_H
#define LEEC_TESTS_STORE_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "leec/store.h"

typedef struct sc_backend {
    const char *name; /* for messages: "fs" */
    void *ud;         /* passed to every function below */
    /* A new, empty store, or NULL (the test fails). */
    leec_store *(*fresh)(void *ud);
    /* Another store on the data of the last fresh one (what another process
     * would open): its installs and locks are the same records. */
    leec_store *(*again)(void *ud);
    /* Removes the data of the last fresh store, once its stores are
     * freed. */
    void (*wipe)(void *ud);

    /* Failure injection; both NULL when the backend has none (those tests
     * then pass without running). inject_arm: the n-th write the backend
     * makes from now on fails as an I/O error does (n >= 1; its own
     * definition of a write: a system call that changes the file system,
     * a statement). inject_disarm: stops, and says whether the failure
     * happened (the operation made at least n writes). */
    void (*inject_arm)(void *ud, unsigned n);
    bool (*inject_disarm)(void *ud);
    /* After an injected failure and after a reset: nothing but whole
     * versions is left where the backend keeps certificate name (exactly
     * versions of them; 0: no trace of name), and no temporary anywhere in
     * the store (name NULL: only the latter). May be NULL. */
    void (*assert_clean)(void *ud, const char *name, size_t versions);
} sc_backend;

/* Runs every test against b (cmocka's output, one group named b->name) and
 * returns the number of failed tests. With injection, it prints how many
 * writes each operation made: the points where a failure was injected. */
int sc_run(const sc_backend *b);

#endif
