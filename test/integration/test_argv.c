/* argv must reach the command as the same bytes, whatever they are. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>

/* Runs `sbx run [sbx_opts...] -- helper argv args...` and compares. */
static void check_round_trip(const char *const *args, int n, int timeout_ms)
{
	const char **argv = calloc((size_t)n + 8, sizeof *argv);
	char *want = it_expected_argv(args, (size_t)n, NULL);
	struct sp *p;
	int k = 0;

	cr_assert(argv != NULL);
	argv[k++] = SBX;
	argv[k++] = "run";
	argv[k++] = "--same-user";
	argv[k++] = "--";
	argv[k++] = HELPER;
	argv[k++] = "argv";
	for (int i = 0; i < n; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	p = sp_run(&(struct sp_opts){ .argv = argv, .timeout_ms = timeout_ms });
	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	EXPECT_OUT(p, want);
	sp_free(p);
	free(want);
	free(argv);
}

static const char *const awkward[] = {
	"",
	" ",
	"two words",
	"  leading and trailing  ",
	"\"",
	"\"quoted\"",
	"'",
	"it's",
	"\\",
	"trailing backslash\\",
	"\\\\server\\share\\",
	"back\\\"slash quote",
	"*",
	"?",
	"*.c",
	"[a-z]",
	"{a,b}",
	"~",
	"$HOME",
	"${PATH}",
	"%PATH%",
	"`id`",
	"$(id)",
	";|&<>()",
	"-",
	"--",
	"--same-user",
	"-C",
	"tab\there",
	"new\nline",
	"carriage\rreturn",
	"\x01\x02\x1f\x7f",
	"caf\xc3\xa9",
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	"\xf0\x9f\x98\x80",
	"\xff",
	"\xfe\xff",
	"\x80",
	"\xc3\x28",
	"\xed\xa0\x80",
	"\xc0\xaf",
	"\xf8\x88\x80\x80\x80",
	"",
};

#define NAWKWARD ((int)(sizeof awkward / sizeof awkward[0]))

Test(argv, awkward_arguments_round_trip, .timeout = 60)
{
	check_round_trip(awkward, NAWKWARD, 0);
}

Test(argv, each_awkward_argument_alone, .timeout = 120)
{
	for (int i = 0; i < NAWKWARD; i++)
		check_round_trip(&awkward[i], 1, 0);
}

Test(argv, no_arguments)
{
	check_round_trip(NULL, 0, 0);
}

Test(argv, only_empty_arguments)
{
	static const char *const empties[] = { "", "", "" };

	check_round_trip(empties, 3, 0);
}

Test(argv, every_byte_value, .timeout = 60)
{
	char all[256];
	const char *args[1] = { all };

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	check_round_trip(args, 1, 0);
}

Test(argv, large_argv, .timeout = 60)
{
	enum { N = 2000, ARGLEN = 100, BIG = 100 * 1024 };
	const char **args = calloc(N + 1, sizeof *args);
	struct it_pattern pat;

	cr_assert(args != NULL);
	it_pattern_init(&pat, 42);
	for (int i = 0; i < N; i++) {
		unsigned char *a = malloc(ARGLEN + 1);

		cr_assert(a != NULL);
		it_pattern_fill(&pat, a, ARGLEN);
		for (int j = 0; j < ARGLEN; j++)
			a[j] = a[j] ? a[j] : 'z'; /* arguments cannot hold NUL */
		a[ARGLEN] = '\0';
		args[i] = (const char *)a;
	}
	char *big = malloc(BIG + 1);

	cr_assert(big != NULL);
	for (int j = 0; j < BIG; j++)
		big[j] = (char)('a' + j % 26);
	big[BIG] = '\0';
	args[N] = big;
	check_round_trip(args, N + 1, 60000);
	for (int i = 0; i <= N; i++)
		free((void *)args[i]);
	free(args);
}

Test(argv, options_after_the_command_belong_to_the_command)
{
	static const char *const args[] = { "--same-user", "-C", "/", "-e", "X=1", "--", "--help" };

	check_round_trip(args, 7, 0);
}

/* getopt_long permutes by default; sbx must stop at the first non-option
 * word, or `sbx run cmd -C x` would steal the command's -C. */
Test(argv, first_non_option_ends_sbx_options)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", HELPER, "argv", "-C", "/nonexistent", "--help"),
	});
	static const char *const args[] = { "-C", "/nonexistent", "--help" };
	char *want = it_expected_argv(args, 3, NULL);

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);
	free(want);
}

Test(argv, through_a_shell)
{
	/* The usual way a caller hands sbx a script: sh -c with positional
	 * parameters, which must arrive unsplit. */
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c", "printf '%s|' \"$0\" \"$@\"",
			     "zero", "one two", "", "*"),
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "zero|one two||*|");
	EXPECT_ERR(p, "");
	sp_free(p);
}
