/* Replays fuzz corpora through a target's LLVMFuzzerTestOneInput without
 * libFuzzer, so the normal (gcc) build and the sanitizer build run every seed
 * as a ctest: replay_fuzz_<parser> DIR|FILE... (fails if no file was found).
 * Each input is copied into a buffer of exactly its size, so an out-of-bounds
 * read shows up under AddressSanitizer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *q = realloc(buf, cap *= 2);
            if (!q) free(buf);
            buf = q;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return -1;
    }
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 1;
}

static int replay_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) return replay_file(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        int k = replay_path(full);
        if (k < 0) {
            closedir(d);
            return -1;
        }
        n += k;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i < argc; i++) {
        int k = replay_path(argv[i]);
        if (k < 0) return 1;
        total += k;
    }
    printf("replayed %d inputs\n", total);
    if (total == 0) {
        fprintf(stderr, "replay: no corpus files found\n");
        return 1;
    }
    return 0;
}
