/* A comma-decimal LC_NUMERIC locale for the locale-independence tests (the
 * library must parse "2.5" as 2.5 whatever locale the host program set). */
#ifndef CLS_TEST_LOCALE_H
#define CLS_TEST_LOCALE_H

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

/* The first installed locale whose decimal point is ',' ((locale_t)0 if none:
 * the caller prints a note and skips). Free with freelocale. */
static locale_t comma_locale(void)
{
    static const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8", "fr_FR.utf8",
                                  "nl_NL.UTF-8", "ru_RU.UTF-8", "es_ES.UTF-8"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        locale_t loc = newlocale(LC_NUMERIC_MASK, names[i], (locale_t)0);
        if (loc == (locale_t)0) continue;
        locale_t old = uselocale(loc);
        char *end;
        double v = strtod("2,5", &end);
        uselocale(old);
        if (v == 2.5) return loc;
        freelocale(loc);
    }
    return (locale_t)0;
}

static void comma_locale_skip_note(const char *what)
{
    printf("note: no comma-decimal locale installed (de_DE, fr_FR, nl_NL, ru_RU, es_ES): %s "
           "locale check skipped (install the locales package and generate de_DE.UTF-8 to run it)\n",
           what);
}

#endif
