// Test vectors made once with Debian's minisign 0.11 (`minisign -G -W`, then `minisign -S`,
// and `minisign -S -l` for the legacy algorithm). The secret keys were not kept: these can only
// be verified, which is all the tests do. Key B signed the same list to test a key-ID mismatch.
#pragma once

#include <string_view>

namespace safegate::testing::minisign {

inline constexpr std::string_view kList =
    "# safegate signed test list\n"
    "signed-one.example\n"
    "signed-two.example\n"
    "signed-three.example\n";

// Key A, ID 636FCDFC1415EF43, as `minisign -G` writes the .pub file.
inline constexpr std::string_view kPublicKeyFileA =
    "untrusted comment: minisign public key 636FCDFC1415EF43\n"
    "RWRD7xUU/M1vYzs1SBzftAh24K4WWT/Z+vhMDhNp/ciIWB7QUz88e28o\n";
inline constexpr std::string_view kPublicKeyA =
    "RWRD7xUU/M1vYzs1SBzftAh24K4WWT/Z+vhMDhNp/ciIWB7QUz88e28o";
// Key B, ID 01E0D6DA16B09D4D.
inline constexpr std::string_view kPublicKeyB =
    "RWRNnbAW2tbgASGQfQxihK55by/xsIFDfWtAbxc37kixBxWt7Nu5cclx";

// kList signed by key A, prehashed ("ED", minisign's default).
inline constexpr std::string_view kSignatureA =
    "untrusted comment: signature from minisign secret key\n"
    "RURD7xUU/M1vY1y8sGyXiC10u+elQTyHA8/pgyskJHldeVNRBLS66VRuUS7korvOagOsSMA+bYrtXd+Xld5wfpUhxusx"
    "i7ZevAk=\n"
    "trusted comment: timestamp:1796000000\tfile:list.txt\thashed\n"
    "lEuLtnBuemqSDoIp0U86Uug8lMbzqlGGFR33LbZKn6zI4zRGecWcX37BhRH5vf/EpM0sll7NJ+lAL+EcMqeqCQ==\n";
// kList signed by key A, legacy ("Ed", minisign -l).
inline constexpr std::string_view kLegacySignatureA =
    "untrusted comment: signature from minisign secret key\n"
    "RWRD7xUU/M1vY30dCb5j9/QHGRQWwJOKoPe/BwSsnQagAwbdnyGhGwB0zJa0eS5uT4Nejm96LnAQgwIKwjM9uMQbcyJH"
    "rowiSgU=\n"
    "trusted comment: timestamp:1796000000\tfile:list.txt\n"
    "CBrLWaKZFFCkgXtvUCTbEL7AExHoiemhRp7vyD36vkea1DE6JUjoL2CbfWgeWxKv1bfsc/UWgB4wXzKsZq0PAw==\n";
// kList signed by key B.
inline constexpr std::string_view kSignatureB =
    "untrusted comment: signature from minisign secret key\n"
    "RURNnbAW2tbgAVHENdnoq7UzSQGl455V+c0RxOKQIl8+A4No5gSbiD+2lhfkxRbWI/+YsG26b8eSeiitJTl+htLJpBmQ"
    "jJRbTQQ=\n"
    "trusted comment: other key\n"
    "P+YHIkIWhyoUZC4e6Pt0hYNRUOvMxcN7zh4Ft6iov9BVFej1TLew1qQfIN7gGgulB3iMRqD/YmJe246AXVpwAw==\n";

}  // namespace safegate::testing::minisign
