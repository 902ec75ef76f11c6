// "Did you mean" suggestions for misspelt config keys and names (groups, schedules,
// categories, lists), after Pi-hole FTL's suggest.c idea: the closest candidate by
// Damerau-Levenshtein distance, offered only when it is close enough to be a plausible typo.
//
// Control plane only (allocates). Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace safegate::policy {

// Optimal-string-alignment distance (insert, delete, substitute, swap adjacent), ASCII
// case-insensitive.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when the distance is at most max(1, word.size() / 3), ties
// broken by candidate order; nullopt otherwise.
std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

// "; did you mean \"x\"?" or "" — ready to append to a message.
std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace safegate::policy
