"""An entry's language when its feed does not say, or says wrongly. Pure.

A cheap guess, not a detector of every language: the writing system first
(Cyrillic, Greek, Arabic, Hebrew, Han, kana, Hangul, Thai, Devanagari), then,
for Latin script, counts of the commonest short words of thirteen languages.
It answers None when the text gives too little to go on (a short headline
with no telling words), and callers then keep what the feed declared.

Topic rules use it so that an English keyword list does not fire on a
Russian listing of phone games: ``effective_language`` keeps a declared
language unless the text is plainly in another script (a feed declared
``en`` that carries Cyrillic entries).
"""

from __future__ import annotations

import re

# Commonest function words; none of them is a word of another list here
# (the shared ones, such as "de" or "a", were left out).
_STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split()) for lang, words in {
        "en": "the and of to is are was were that this with for from have has not but which "
              "will would their they what about into been more when there who how our your its",
        "de": "der die das und ist nicht mit sich auf dem den ein eine einer zu von für auch "
              "wird werden sind wie oder bei nach noch aus über",
        "fr": "le les des est une pour dans qui pas sur avec sont par mais ou aux cette ces "
              "du au nous vous leur être été",
        "es": "el los las del que una por con para como más pero sus está son fue este esta "
              "entre cuando muy sin sobre también",
        "it": "il della che per una sono con non gli più questo nella anche alla come delle "
              "degli dei stato essere",
        "pt": "os das dos uma para com não mais como mas foi pelo pela são ao está também "
              "seu sua quando muito nos já",
        "nl": "het een van en niet zijn op te dat voor met ook maar aan bij wordt worden "
              "naar uit deze heeft geen",
        "sv": "och att det som är för på med av till inte har om ett den jag var men sig "
              "från eller så",
        "da": "og af til det er som på med for ikke har en den jeg var men fra eller så "
              "kan skal",
        "pl": "nie się na jest że do to jak po za od czy ale przez dla już tylko jego",
        "cs": "je se na že to jsou pro jako ale jsem jeho by tak které která který",
        "tr": "ve bir bu için ile da de olarak daha çok gibi olan sonra kadar ama",
        "id": "dan yang di ini itu dengan untuk dari tidak akan pada juga ada atau",
    }.items()
}
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _STOPWORDS.items():
    for _word in _words:
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _lang)
_WORD = re.compile(r"[^\W\d_]+")

# A character's script, for the scripts that name (nearly) one language here.
_SCRIPTS = (
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
)
_OTHER_SCRIPTS = re.compile("|".join(p.pattern for _l, p in _SCRIPTS))
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_NON_LATIN_LANGUAGES = frozenset(lang for lang, _p in _SCRIPTS) | {"uk", "bg", "sr", "mk", "be", "kk",
                                                                    "fa", "ur", "yi", "mr", "ne"}
SAMPLE_CHARS = 600  # enough words to tell; more costs time on every entry


def detect(text: str) -> str | None:
    """A language code for ``text``, or None when the text does not tell."""
    sample = text[:SAMPLE_CHARS]
    if not sample.isascii() and _OTHER_SCRIPTS.search(sample):
        latin = len(_LATIN.findall(sample))
        for lang, pattern in _SCRIPTS:
            found = len(pattern.findall(sample))
            if found and 2 * found >= latin:  # a third of the letters: product names are Latin
                if lang == "ru" and _UKRAINIAN.search(sample):
                    return "uk"
                if lang == "zh" and _SCRIPTS[4][1].search(sample):
                    return "ja"  # Japanese writes Han with kana
                return lang
    counts: dict[str, int] = {}
    for word in _WORD.findall(sample.lower()):
        for lang in _LANGUAGES_OF.get(word, ()):
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    best, n = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return best if n >= 2 and n > runner_up else None


def effective_language(declared: str | None, text: str) -> str | None:
    """The language topic rules see: the declared one (lower case), unless the text is
    in another script than that language is written in; else the detected one."""
    declared = (declared or "").strip().casefold() or None
    if declared is not None:
        primary = declared.split("-", 1)[0]
        if primary in _NON_LATIN_LANGUAGES or text.isascii():
            return declared
        guessed = detect(text)
        if guessed is not None and guessed in _NON_LATIN_LANGUAGES:
            return guessed  # a feed declared in a Latin-script language carrying another script
        return declared
    return detect(text)


def language_matches(language: str | None, wanted: str) -> bool:
    """``en`` matches ``en`` and ``en-GB``; ``und`` (BCP 47's "undetermined") matches an
    entry whose language is neither declared nor detected, and nothing else does."""
    wanted = wanted.casefold()
    if language is None:
        return wanted == "und"
    return language == wanted or language.startswith(wanted + "-")
