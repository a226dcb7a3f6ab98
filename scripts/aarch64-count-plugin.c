// qemu-user TCG plugin (plugin API version 1, qemu 7.x) counting executed AArch64 instructions by
// class, for the latency estimate of scripts/aarch64-estimate.sh. Classes are matched on the 32-bit
// encodings (Arm ARM, A64 SIMD&FP groups); counts are inline adds, exact for one guest thread.
// With the argument symbols=on (-plugin count.so,symbols=on) the classes are also counted per function
// (the symbol qemu finds for each instruction), printed as "insn-symbol NAME class n" lines.
// Build: cc -shared -fPIC -O2 -o count.so aarch64-count-plugin.c; run: qemu-aarch64 -plugin ./count.so ...
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// The few declarations of qemu's public plugin API (include/qemu/qemu-plugin.h, version 1) used here.
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

enum { TOTAL, FMLA, SDOT, SMLAL, SIMD_OTHER, LOADSTORE, CLASSES };
static const char *names[CLASSES] = {"total", "fmla", "sdot", "smlal", "simd_fp_other", "load_store"};
static uint64_t counts[CLASSES];

// Per-function counts (symbols=on): an open-addressing table keyed by name.
#define SYMBOLS 8192
static struct { const char *name; uint64_t counts[CLASSES]; } symbols[SYMBOLS];
static int bySymbol;

static uint64_t *symbolCounts(const char *name) {
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    for (uint32_t k = 0; k < SYMBOLS; k++) {
        uint32_t slot = (h + k) % SYMBOLS;
        if (!symbols[slot].name) symbols[slot].name = name;
        if (strcmp(symbols[slot].name, name) == 0) return symbols[slot].counts;
    }
    return NULL;  // table full: counted in the totals only
}

static int classify(uint32_t i) {
    if ((i & 0xBF20FC00u) == 0x0E20CC00u || (i & 0xBF80F400u) == 0x0F801000u) return FMLA;   // FMLA/FMLS vector, FMLA by element
    if ((i & 0xBFE0FC00u) == 0x0E809400u || (i & 0xBFC0F400u) == 0x0F80E000u) return SDOT;   // SDOT vector / by element
    if ((i & 0xBF20FC00u) == 0x0E208000u || (i & 0xBF00F400u) == 0x0F002000u) return SMLAL;  // SMLAL(2) vector / by element
    if ((i & 0x0A000000u) == 0x08000000u) return LOADSTORE;                                  // op0 = x1x0
    if ((i & 0x0E000000u) == 0x0E000000u) return SIMD_OTHER;                                 // op0 = x111
    return -1;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t k = 0; k < n; k++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, k);
        uint32_t word = 0;
        if (qemu_plugin_insn_size(insn) == 4) memcpy(&word, qemu_plugin_insn_data(insn), 4);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[TOTAL], 1);
        int c = classify(word);
        if (c >= 0) qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[c], 1);
        const char *name = bySymbol ? qemu_plugin_insn_symbol(insn) : NULL;
        uint64_t *own = name ? symbolCounts(name) : NULL;
        if (own) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &own[TOTAL], 1);
            if (c >= 0) qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &own[c], 1);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *p) {
    (void)id; (void)p;
    char line[96];
    for (int c = 0; c < CLASSES; c++) {
        snprintf(line, sizeof line, "insn-count %s %" PRIu64 "\n", names[c], counts[c]);
        qemu_plugin_outs(line);
    }
    for (int k = 0; k < SYMBOLS; k++) {
        if (!symbols[k].name) continue;
        for (int c = 0; c < CLASSES; c++) {
            char out[320];
            snprintf(out, sizeof out, "insn-symbol %.200s %s %" PRIu64 "\n", symbols[k].name, names[c], symbols[k].counts[c]);
            qemu_plugin_outs(out);
        }
    }
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int a = 0; a < argc; a++) if (strcmp(argv[a], "symbols=on") == 0) bySymbol = 1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
