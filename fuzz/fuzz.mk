# The fuzz targets (fuzz/README.md), built by `make fuzz` from the top
# Makefile, which passes the compiler, the flags and the library sources
# it knows.  A separate GNU make file because every library source is
# compiled a second time, by clang with libFuzzer's coverage and ASan and
# UBSan, into objects of its own under fuzz/obj/ in the build tree.
#
# Variables from the caller: srcdir (the top source directory), FUZZ_CC,
# LIB_SOURCES (library .c files relative to srcdir), DEP_CFLAGS, DEP_LIBS,
# WARN_CFLAGS, DEFS (configure's -D flags), TARGETS (names without the
# fuzz- prefix).
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang 14, unlike gcc, warns of a v*printf whose format is a va_list
# function's attributed parameter (error.c), and of a variable that only
# holds a _cleanup_ (extract.c's cfd): neither is a defect, and gcc's
# -Werror build still checks both files.
FUZZ_CFLAGS = $(DEFS) -g -O1 -std=gnu11 -pthread $(FUZZ_SAN) -I$(srcdir) -I$(srcdir)/src -I. $(DEP_CFLAGS) \
	$(WARN_CFLAGS) -Wno-format-nonliteral -Wno-unused-variable
OBJ = fuzz/obj

LIB_OBJS = $(patsubst %.c,$(OBJ)/%.o,$(filter %.c,$(LIB_SOURCES)))
BINS = $(patsubst %,fuzz/fuzz-%,$(TARGETS))

all: $(BINS)

# The code under test: coverage for the fuzzer, no libFuzzer main.
$(OBJ)/%.o: $(srcdir)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC(fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(OBJ)/libfuzzlib.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

fuzz/fuzz-%: $(OBJ)/fuzz/fuzz-%.o $(OBJ)/fuzz/common.o $(OBJ)/libfuzzlib.a
	@echo "  LD(fuzz) $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(DEP_LIBS)

-include $(LIB_OBJS:.o=.d) $(OBJ)/fuzz/common.d $(patsubst %,$(OBJ)/fuzz/fuzz-%.d,$(TARGETS))

.PHONY: all
.SECONDARY:
