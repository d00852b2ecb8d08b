/*
 * list.h -- Exim's lists, read one item at a time.
 *
 * Every list in an Exim configuration (domains, hosts, headers_remove,
 * route_list, the client_send of an authenticator, ...) is read by one
 * rule, Exim's string_nextinlist():
 *
 *   - blanks (isspace in the C locale) before an item are skipped, and
 *     blanks after it removed unless the last is escaped by a backslash;
 *   - the separator is ':' unless the list starts (after blanks) with '<'
 *     and a punctuation or control character, which is then the separator
 *     ("<;a;b", "<, a, b"); '<' alone is an empty list;
 *   - a doubled separator stands for one in the data ("::1" is ":1" in a
 *     colon list) unless the separator is a control character, where it
 *     ends an empty item;
 *   - an empty item is one ("a::b" is not one, "a: :b" is three); the end
 *     of the list after a separator is not an item.
 *
 * Items are copied out (doubled separators undone), so there is no length
 * limit but memory.
 */
#ifndef NOQ_LIST_H
#define NOQ_LIST_H

#include <stddef.h>

#include "sb.h"

/**
 * struct list_iter - where a list is being read.
 * @base: the list; @i: the offset of what is left of it;
 * @sep: the separator as Exim's argument: > 0 a fixed separator (no "<c"
 *       rule); 0 ':' unless the list names another; < 0 -@sep unless the
 *       list names another.  Set to the separator in use by the first
 *       list_next().
 * @pos: after list_next() returned an item: the offset in @base where it
 *       began (its first character, or the separator ending an empty item).
 */
struct list_iter {
	const char *base;
	size_t i;
	int sep;
	size_t pos;
};

/** list_init() - start reading @list with separator rule @sep (see above). */
void list_init(struct list_iter *it, const char *list, int sep);

/**
 * list_next() - the next item into @item (its old text replaced).
 * Returns 1 with an item, 0 at the end of the list, -1 when @item could
 * not hold it (@item->err says why; the item is passed over, so reading
 * may go on with the next).
 */
int list_next(struct list_iter *it, struct sb *item);

#endif
