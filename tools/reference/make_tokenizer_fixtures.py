#!/usr/bin/env python3
"""Writes the byte-level BPE fixtures that Tests/TextTests/TokenizerTests.swift reads.

Run from the package root:  python3 tools/reference/make_tokenizer_fixtures.py
(needs `pip install "transformers<5" tokenizers`: transformers 4.x still has the pure-Python
RobertaTokenizer, which is compared with RobertaTokenizerFast on every case).

It trains a small byte-level BPE vocabulary (about 2000 entries, RoBERTa's special tokens
<s>=0, <pad>=1, </s>=2, <unk>=3 and <mask> last) with the `tokenizers` package on a few
thousand sound descriptions written below, saves it as vocab.json + merges.txt, loads it with
RobertaTokenizer and RobertaTokenizerFast, and writes into Tests/Fixtures/tokenizer/:

  vocab.json, merges.txt   the trained vocabulary, in roberta-base's file formats
  cases.json               hard strings with the ids and tokens HF gives with
                           truncation=True, max_length=512 (a few cases use other lengths)
  regex_classes.json       which scalars the Rust tokenizers' regex engine (Oniguruma) counts
                           as \\p{L}, \\p{N} and \\s: the ranges the Swift pre-tokenizer must match

The output is deterministic: the same bytes every run with the same package versions.

  --crosscheck FOLDER OUT.json   instead writes ~14,000 texts (the corpus, the cases, thousands
                                 of random strings, long ones) with the ids RobertaTokenizerFast
                                 gives for the tokenizer in FOLDER (vocab.json + merges.txt, e.g.
                                 a roberta-base download); not a fixture. TokenizerTests checks
                                 them when TOKENIZER_CROSSCHECK_DIR and TOKENIZER_CROSSCHECK_CASES
                                 are set.
Where the Python and Rust tokenizers disagree (few, listed on stdout and in cases.json),
the Rust one is the reference: it is RobertaTokenizerFast, and in transformers 5 it is
RobertaTokenizer too; its Unicode tables are fixed by the tokenizers wheel, whereas the
Python one's follow whichever `regex` release is installed.
"""
import argparse
import json
import pathlib
import random
import sys

import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers.models.roberta.tokenization_roberta import bytes_to_unicode

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "tokenizer"
VOCAB_SIZE = 2000
MAX_LENGTH = 512

# ---------------------------------------------------------------------------------------------
# The training corpus: sound descriptions, written for this fixture.

# What makes the sound, and what it does (kept plausible pairwise).
SOURCES = {
    "a dog": ["barking", "growling", "whining", "howling", "panting", "barking loudly"],
    "a small dog": ["yapping", "barking", "whimpering"],
    "two dogs": ["barking at each other", "growling", "playing"],
    "a cat": ["meowing", "purring", "hissing", "yowling"],
    "a kitten": ["mewing", "purring softly"],
    "a baby": ["crying", "laughing", "babbling", "cooing"],
    "a toddler": ["giggling", "screaming", "talking"],
    "children": ["playing", "laughing", "shouting", "singing a song"],
    "a man": ["speaking", "coughing", "sneezing", "whistling", "snoring", "shouting", "laughing"],
    "a woman": ["speaking", "singing", "laughing", "whispering", "humming", "coughing"],
    "an old man": ["talking slowly", "coughing", "clearing his throat"],
    "a crowd": ["cheering", "applauding", "murmuring", "chanting"],
    "people": ["talking", "chatting", "clapping", "walking"],
    "birds": ["chirping", "singing", "tweeting", "calling"],
    "a crow": ["cawing"],
    "an owl": ["hooting"],
    "a rooster": ["crowing"],
    "seagulls": ["squawking", "calling"],
    "pigeons": ["cooing", "flapping their wings"],
    "ducks": ["quacking"],
    "frogs": ["croaking"],
    "crickets": ["chirping"],
    "bees": ["buzzing"],
    "a mosquito": ["buzzing"],
    "cows": ["mooing"],
    "sheep": ["bleating"],
    "a horse": ["neighing", "galloping", "trotting"],
    "a lion": ["roaring"],
    "an elephant": ["trumpeting"],
    "a pig": ["oinking", "grunting"],
    "a goat": ["bleating"],
    "wolves": ["howling"],
    "rain": ["falling", "pattering", "falling on a tin roof", "hitting the window", "dripping"],
    "heavy rain": ["pouring", "drumming on a car roof"],
    "thunder": ["rumbling", "cracking", "booming"],
    "wind": ["blowing", "howling", "whistling", "gusting"],
    "waves": ["crashing", "lapping", "breaking on the shore"],
    "a stream": ["babbling", "flowing", "trickling"],
    "a waterfall": ["roaring", "splashing"],
    "water": ["running", "dripping", "boiling", "splashing", "pouring"],
    "a fire": ["crackling", "burning", "popping"],
    "fireworks": ["exploding", "popping", "crackling"],
    "a car": ["passing by", "honking", "accelerating", "braking", "idling", "starting"],
    "a car engine": ["revving", "idling", "starting", "roaring"],
    "a truck": ["passing", "reversing and beeping", "rumbling"],
    "a motorcycle": ["revving", "passing by", "accelerating"],
    "a bus": ["stopping", "pulling away"],
    "a train": ["passing", "approaching", "braking", "blowing its horn", "rattling over the tracks"],
    "an airplane": ["flying overhead", "taking off", "landing"],
    "a helicopter": ["hovering", "flying overhead"],
    "a siren": ["wailing", "blaring"],
    "an ambulance": ["passing with its siren on"],
    "church bells": ["ringing", "chiming", "tolling"],
    "a bell": ["ringing", "tolling"],
    "a clock": ["ticking", "chiming", "striking twelve"],
    "an alarm clock": ["ringing", "beeping"],
    "a phone": ["ringing", "vibrating", "buzzing"],
    "a smoke alarm": ["beeping", "going off"],
    "a door": ["opening", "closing", "slamming", "creaking", "being knocked on"],
    "a window": ["opening", "shattering", "rattling"],
    "footsteps": ["on gravel", "on a wooden floor", "in the snow", "on stairs", "echoing"],
    "someone": ["typing on a mechanical keyboard", "typing on a laptop", "knocking", "walking",
                "eating chips", "chewing", "drinking", "snapping their fingers", "clapping",
                "tapping on a table", "opening a bag", "zipping a jacket", "writing with a pencil"],
    "a keyboard": ["clicking", "being typed on"],
    "a typewriter": ["clacking", "dinging"],
    "a printer": ["printing", "whirring"],
    "a computer fan": ["whirring", "humming"],
    "a vacuum cleaner": ["running", "humming"],
    "a washing machine": ["spinning", "running", "draining"],
    "a microwave": ["humming", "beeping"],
    "a kettle": ["boiling", "whistling"],
    "a blender": ["blending", "whirring"],
    "a refrigerator": ["humming"],
    "a hair dryer": ["blowing", "running"],
    "a lawn mower": ["running", "mowing"],
    "a chainsaw": ["cutting wood", "revving"],
    "a hammer": ["hitting a nail", "pounding"],
    "a drill": ["drilling", "whining"],
    "a saw": ["sawing wood"],
    "a piano": ["playing", "playing a melody", "playing chords", "being tuned"],
    "an acoustic guitar": ["strumming", "playing", "being plucked"],
    "an electric guitar": ["playing a solo", "distorted", "strumming"],
    "a bass guitar": ["playing a groove", "thumping"],
    "drums": ["playing", "playing a beat", "rolling"],
    "a snare drum": ["rolling", "hit once"],
    "a violin": ["playing", "playing a slow melody"],
    "a cello": ["playing", "bowing a low note"],
    "a saxophone": ["playing jazz", "playing"],
    "a trumpet": ["playing", "blaring"],
    "a flute": ["playing", "trilling"],
    "a harmonica": ["playing the blues"],
    "an organ": ["playing in a church"],
    "a choir": ["singing", "singing in harmony"],
    "a synthesizer": ["playing an arpeggio", "droning", "pulsing"],
    "a gun": ["firing", "being fired twice"],
    "glass": ["breaking", "clinking", "shattering"],
    "dishes": ["clattering", "being washed"],
    "coins": ["jingling", "dropping on a table"],
    "keys": ["jangling"],
    "paper": ["rustling", "being crumpled", "tearing"],
    "leaves": ["rustling"],
    "a ball": ["bouncing"],
    "a basketball": ["bouncing on a court"],
    "an audience": ["applauding", "laughing", "booing"],
}
PLACES = [
    "in the rain", "in the distance", "nearby", "indoors", "outdoors", "outside at night",
    "in a large hall", "in a small room", "in a small room with reverb", "on a busy street",
    "in a quiet street", "in a forest", "at the beach", "in a kitchen", "in a train station",
    "in an office", "in a cafe", "in a park", "on the radio", "over the phone", "in a car",
    "in a church", "underwater", "in a cave", "at a concert", "in a stadium", "in the city",
    "in the countryside", "in the morning", "at night", "during a storm", "in the background",
    "far away", "close to the microphone", "in a tunnel", "on a farm", "in a garden",
]
ADVERBS = ["loudly", "softly", "quietly", "repeatedly", "briefly", "continuously", "twice",
           "three times", "slowly", "quickly", "rhythmically", "intermittently", "again and again"]
NUMBERS = ["for 10 seconds", "for 5 seconds", "at 120 BPM", "at 90 bpm", "from 0:05 to 0:12",
           "3 times", "7 times", "for 2.5 seconds", "at 440 Hz", "at 1,000 Hz", "in 4/4 time",
           "at -6 dB", "for 30s", "around 3 a.m.", "at 8:45 pm", "in 1999", "in the 1980s"]
SHORT_QUERIES = [
    "vocals", "drums", "bass", "piano", "speech", "music", "guitar", "singing", "dog", "cat",
    "rain", "thunder", "wind", "traffic", "applause", "laughter", "birdsong", "engine noise",
    "white noise", "silence", "footsteps", "keyboard typing", "background music", "male speech",
    "female speech", "child speech", "crowd noise", "sirens", "bells", "water", "fire", "noise",
    "lead vocals", "backing vocals", "violin", "synth", "hi-hat", "kick drum", "snare", "cymbals",
    "dog barking", "cat meowing", "baby crying", "car horn", "door knock", "glass breaking",
]
# Hand-written sentences: other languages, punctuation, numbers, emoji and contractions.
HANDWRITTEN = [
    "a dog barking in the rain", "vocals", "someone typing on a mechanical keyboard",
    "église cloches sonnent", "Les cloches de l'église sonnent à midi.", "un chien aboie sous la pluie",
    "des oiseaux chantent le matin", "le vent souffle fort", "une voiture passe dans la rue",
    "ein Hund bellt im Regen", "Kirchenglocken läuten", "Vögel zwitschern im Wald", "Straßenlärm",
    "un perro ladrando", "lluvia fuerte en el techo", "niños jugando en el parque", "¿Qué es ese ruido?",
    "campane della chiesa", "un gatto che miagola", "pássaros cantando", "chuva caindo no telhado",
    "犬が吠えている", "雨の音", "鳥のさえずり", "狗叫声", "下雨的声音", "钢琴演奏", "鸟叫声和风声",
    "빗소리", "개 짖는 소리", "собака лает", "шум дождя", "звон колоколов", "صوت المطر", "كلب ينبح",
    "כלב נובח", "רעש גשם", "βροχή και βροντές", "बारिश की आवाज़", "tiếng mưa rơi", "köpek havlıyor",
    "pies szczeka w deszczu", "hund som skäller", "regnet smatrer på taket", "koira haukkuu",
    "🐶 barking", "🌧️ rain on the roof", "🔔 bells ringing", "🎹 piano", "🥁 drums", "🎸🔥 guitar solo",
    "🐦 birds chirping", "👶 baby crying", "🚗 car passing", "🌊 waves", "⚡ thunder", "👏 applause",
    "it's a dog", "it's raining", "the dog's bark", "the cat's meow", "I'm hearing a bell",
    "you're hearing rain", "we've got drums", "they'll cheer", "she'd sing", "don't stop the music",
    "can't hear anything", "It's LOUD!", "rock 'n' roll", "o'clock chimes", "DOG BARKING!!!",
    "A man says: \"hello, world\".", "(background noise)", "[laughter]", "-- static --", "beep... beep...",
    "ring-ring", "tick-tock", "ding-dong!", "boom! crash! bang!", "sh-sh-shhh", "e-mail notification",
    "Dog barking; cat meowing, birds: chirping.", "100% rain", "$5 toy squeaking", "#1 hit song",
    "phone number 555-0123 being dialed", "countdown 10, 9, 8, 7, 6, 5, 4, 3, 2, 1", "3.5 kHz tone",
    "The sound of rain at 3:00 AM", "2 dogs and 3 cats", "99 bottles clinking", "a 1 kHz sine wave",
    "café ambience", "naïve piano melody", "a crowd at a fête", "a piñata being hit", "Zürich tram",
]

def corpus():
    """About 3,600 lines: templated descriptions from the lists above plus the hand-written ones."""
    rng = random.Random(20240601)
    sources = sorted(SOURCES)
    lines = []
    for source in sources:
        for action in SOURCES[source]:
            lines.append(f"{source} {action}")
            lines.append(f"{source[0].upper()}{source[1:]} {action} {rng.choice(PLACES)}.")
    while len(lines) < 3000:
        source = rng.choice(sources)
        action = rng.choice(SOURCES[source])
        other = rng.choice(sources)
        other_action = rng.choice(SOURCES[other])
        template = rng.randrange(9)
        if template == 0:
            line = f"{source} {action} {rng.choice(PLACES)}"
        elif template == 1:
            line = f"the sound of {source} {action}"
        elif template == 2:
            line = f"{source} {action} while {other} {other_action}"
        elif template == 3:
            line = f"{source[0].upper()}{source[1:]} {action}, then {other} {other_action}."
        elif template == 4:
            line = f"{source} {action} {rng.choice(ADVERBS)} {rng.choice(NUMBERS)}"
        elif template == 5:
            line = f"recording of {source} {action} {rng.choice(PLACES)}"
        elif template == 6:
            line = rng.choice(SHORT_QUERIES)
        elif template == 7:
            line = f"{rng.choice(SHORT_QUERIES)} and {rng.choice(SHORT_QUERIES)}"
        else:
            line = f"{source} {action} {rng.choice(ADVERBS)}, {rng.choice(PLACES)}"
        lines.append(line)
    lines += HANDWRITTEN * 6
    return lines

# ---------------------------------------------------------------------------------------------
# The cases.

LONG_TEXT = (
    "A long field recording, described minute by minute: at first a dog barks in the rain, "
    "then a car passes on the wet street (its tyres hiss), and someone types on a mechanical "
    "keyboard near an open window. Church bells ring twelve times — église cloches sonnent — "
    "while pigeons coo and flap their wings. At 12:05 a bus stops, its doors open with a "
    "pneumatic sigh, and 3 or 4 people get off, talking and laughing; one says \"it's "
    "freezing!\" and another answers 'we'll be late'. A siren wails far away (≈ 2 km), a "
    "baby cries, a kettle whistles in a kitchen. Rain drums on a tin roof: tap-tap-tap... "
    "🌧️🐶🔔 Then thunder rumbles, the wind howls, waves crash at the beach 200 m away; "
    "seagulls squawk. 犬が吠えている。雨の音。 собака лает. صوت المطر. At 12:30 a train "
    "rattles over the tracks, blowing its horn twice; a violin plays a slow melody in a "
    "large hall with reverb, a choir sings in harmony, and the audience applauds. "
)
LONG_TEXT = (LONG_TEXT * 4)[:3000]

HARD_CASES = [
    # Empty, spaces, whitespace runs, line ends.
    ("empty", ""), ("one space", " "), ("two spaces", "  "), ("three spaces", "   "),
    ("tab", "\t"), ("newline", "\n"), ("crlf", "\r\n"), ("cr", "\r"), ("space newline space", " \n "),
    ("newlines", "\n\n\n"), ("blank line", "a\n\nb"), ("crlf between", "a\r\nb"),
    ("crlf spaced", "a \r\n b"), ("two lines", "line one\nline two\n"), ("crlf lines", "first\r\nsecond\r\n"),
    ("tab lead", "\ttab lead"), ("trailing tab", "trail tab\t"), ("leading spaces", "  leading"),
    ("trailing spaces", "trailing  "), ("both sides", " both "), ("double space", "a  b"),
    ("triple space", "a   b"), ("space tab space", "a \t b"), ("two tabs", "a\t\tb"),
    ("word space newline", "word \n"), ("nbsp lead", "\u00a0nbsp"), ("nbsp inside", "a\u00a0b"),
    ("ideographic space", "a\u3000b"), ("em space", "\u2003em space"), ("vt ff", "\x0b\x0c"),
    ("nel", "\x85"), ("line and paragraph separators", "a\u2028b\u2029c"), ("spaces before word", "    dog"),
    ("spaces after newline", "dog\n   cat"), ("mixed whitespace run", " \t \n\r\n  x"),
    # Punctuation only, and punctuation mixed with words.
    ("bang", "!"), ("interrobang", "?!"), ("ellipsis", "..."), ("bangs", "!!!"), ("em dash", "—"),
    ("en dash", "a–b"), ("guillemets", "«bonjour»"), ("parens", "()"), ("bracketed", "[laughs]"),
    ("stars", "***"), ("symbols", "#$%&"), ("at mention", "@user"), ("tildes", "~~~"),
    ("quoted", "\"quoted\""), ("hyphen", "a-b"), ("underscore", "snake_case_name"),
    ("parenthesised", "(a dog)"), ("separators", "dog,cat;bird:"), ("spanish question", "¿qué?"),
    ("spanish bang", "¡hola!"), ("space punct", " !"), ("space punct run", " !?."), ("slash", "on/off"),
    ("url", "https://example.com/a?b=c&d=e"), ("email", "sound@example.org"), ("math", "2+2=4"),
    ("arrows", "→ ← ↑ ↓"), ("box drawing", "┌─┐"), ("currency", "€ £ ¥ ₹"), ("degree", "20°C"),
    # Apostrophes and contractions.
    ("its", "it's"), ("Its", "It's"), ("ITS", "IT'S"), ("dog's", "dog's"), ("dogs'", "dogs'"),
    ("bare 's", "'s"), ("bare 'S", "'S"), ("bare 're", "'re"), ("we're", "we're"), ("WE'RE", "WE'RE"),
    ("you've", "you've"), ("I'm", "I'm"), ("they'll", "they'll"), ("she'd", "she'd"), ("can't", "can't"),
    ("won't", "won't"), ("o'clock", "o'clock"), ("rock n roll", "rock 'n' roll"), ("double quote s", "''s"),
    ("three apostrophes", "'''"), ("curly its", "it’s"), ("curly dog's", "dog’s bark"),
    ("curly quotes", "‘quoted’"), ("'sound", "'sound"), ("single quoted", "'test'"), ("space 's", " 's"),
    ("'ll've", "'ll've"), ("x'S", "x'S"), ("'d'd", "'d'd"), ("'M", "'M"), ("apostrophe space s", "' s"),
    ("'t", "'t"), ("'ve at end", "I've"), ("'ll then letters", "'llama"), ("bang 's", "!'s"),
    ("modifier apostrophe", "itʼs"), ("backtick", "it`s"), ("acute", "it´s"),
    # Digits and numbers.
    ("zero", "0"), ("one", "1"), ("12", "12"), ("123", "123"), ("digits", "1234567890"),
    ("pi", "3.14"), ("thousands", "1,000,000"), ("spaced thousands", "1 000 000"), ("time", "10:30"),
    ("range", "5-10"), ("negative", "-5"), ("phone", "+44 20 7946 0958"), ("date", "2024-01-15"),
    ("percent", "100%"), ("price", "$9.99"), ("euro", "€5"), ("ordinals", "1st 2nd 3rd"), ("80s", "80s"),
    ("version", "v2.0"), ("hex", "0x1F"), ("exponent", "1e-5"), ("half", "½"), ("superscript", "x²"),
    ("roman numeral", "Ⅻ"), ("arabic indic digits", "١٢٣"), ("arabic pi", "٣.١٤"),
    ("cjk numerals", "一二三"), ("math digits", "𝟙𝟚𝟛"), ("circled", "①②"), ("number then word", "3dogs"),
    ("space number", " 42"), ("numbers spaced", "1 2 3"), ("fullwidth digits", "１２３"),
    # Accents, precomposed and combining.
    ("cafe precomposed", "café"), ("cafe combining", "cafe\u0301"), ("eglise precomposed", "église"),
    ("eglise combining", "e\u0301glise"), ("naive", "naïve"), ("aero", "Ærø"), ("nandu", "ñandú"),
    ("angstrom", "Ångström"), ("A ring combining", "A\u030a"), ("fi ligature", "ﬁne"), ("strasse", "Straße"),
    ("istanbul", "İstanbul"), ("titlecase dz", "ǅemal"), ("stacked marks", "x\u0301\u0302\u0303"),
    ("lone combining", "\u0301"), ("space combining", " \u0301"), ("combining after space", "a \u0301b"),
    ("vietnamese", "tiếng mưa rơi"), ("vietnamese combining", "tie\u0302\u0301ng"),
    ("zalgo", "z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o"),
    # Canonically equivalent but different scalars (Swift's String == says equal; HF does not),
    # one after another so that a cache keyed by String would hand back the other's tokens.
    ("oxia alpha", "\u1fbb"), ("tonos alpha", "\u0386"), ("angstrom sign", "\u212b"),
    ("A ring precomposed", "\u00c5"), ("A ring decomposed", "A\u030a"), ("ohm sign", "\u2126 ohm"),
    ("omega", "\u03a9 ohm"),
    # CJK.
    ("japanese", "犬が吠えている"), ("japanese rain", "雨の音"), ("chinese", "狗叫声"),
    ("chinese spaced", "下雨 的 声音"), ("chinese full stop", "钢琴演奏。"), ("korean", "빗소리"),
    ("korean spaced", "한국어 텍스트"), ("katakana", "カタカナ"), ("fullwidth latin", "ｆｕｌｌｗｉｄｔｈ"),
    ("chinese punctuation", "中文，标点！"), ("cjk extension b", "𠀀𠀁"), ("halfwidth katakana", "ｶﾀｶﾅ"),
    ("hangul jamo", "\u1100\u1161\u11a8"),
    # Emoji.
    ("dog emoji", "🐶"), ("dog emoji word", "🐶 barking"), ("emoji in sentence", "a 🐶 barks"),
    ("emoji variation selector", "🌧️"), ("skin tone", "👍🏽"), ("family zwj", "👨‍👩‍👧‍👦"),
    ("rainbow flag", "🏳️‍🌈"), ("heart", "❤️"), ("flag", "🇫🇷"), ("emoji run", "🎹🎸🥁"),
    ("coffee", "☕"), ("check", "✔"), ("keycap", "1️⃣"), ("scientist", "👩🏿‍🔬"),
    ("smileys", "😀😃😄"), ("emoji then word", "🔔bells"), ("space emoji", " 🐶"),
    # Right-to-left scripts.
    ("arabic rain", "صوت المطر"), ("arabic dog", "كلب ينبح"), ("hebrew dog", "כלב נובח"),
    ("hebrew rain", "רעש גשם"), ("hebrew niqqud", "שָׁלוֹם"), ("arabic with digits", "مرحبا123"),
    ("rlm", "\u200fRLM"), ("lrm", "a\u200eb"), ("rtl override", "\u202eoverride"),
    ("arabic tatweel", "كـــلب"), ("persian", "صدای باران"),
    # Other scripts.
    ("russian", "собака лает"), ("greek", "βροχή και βροντές"), ("hindi", "बारिश की आवाज़"),
    ("thai", "เสียงฝนตก"), ("georgian", "წვიმა"), ("armenian", "անձրև"), ("ethiopic", "ዝናብ"),
    ("tamil", "மழை சத்தம்"), ("gothic", "𐌰𐌱𐌲"),
    # Control characters and invisible ones.
    ("nul", "\x00"), ("nul inside", "a\x00b"), ("soh stx etx", "\x01\x02\x03"),
    ("ansi escape", "\x1b[31mred\x1b[0m"), ("del", "\x7f"), ("separators 1c-1f", "\x1c\x1d\x1e\x1f"),
    ("separators before word", "\x1c\x1d a"), ("backspace", "a\x08b"), ("zero width space", "\u200b zero width"),
    ("zwj between letters", "a\u200db"), ("bom", "\ufeffBOM"), ("replacement char", "\ufffd"),
    ("noncharacter", "\uffff"), ("last scalar", "\U0010ffff"), ("private use", "\ue000"),
    ("soft hyphen", "sound\u00adscape"), ("c1 control", "\x9b"),
    # Special tokens written in the text.
    ("bos", "<s>"), ("eos", "</s>"), ("mask", "<mask>"), ("mask spaced", "a <mask> b"), ("mask glued", "a<mask>b"),
    ("spaces mask", "  <mask>"), ("tab mask", "\t<mask>"), ("ideographic space mask", "\u3000<mask>"),
    ("mask trailing space", "<mask> "), ("pad unk", "<pad><unk>"), ("upper S", "<S>"), ("spaced s", "< s>"),
    ("unclosed s", "<s"), ("nested s", "<<s>>"), ("unclosed mask", "<mask"), ("eos inside", "x</s>y"),
    ("1c mask", "\x1c<mask>"), ("two masks", "<mask><mask>"), ("mask in sentence", "a dog <mask> in the rain"),
    ("bos words", "<s> hello </s>"),
    # Ordinary queries, and words the vocabulary never saw.
    ("query rain", "Rain falling on a tin roof."), ("query man car", "A man speaks, then a car passes by"),
    ("query guitar", "acoustic guitar strumming at 120 BPM"), ("upper", "DOG BARKING"),
    ("title", "Dog Barking"), ("mixed case", "dOg BaRkInG"), ("unseen words", "zyzzyva quixotic"),
    ("nonsense", "xkcdqwfp"), ("long word", "Pneumonoultramicroscopicsilicovolcanoconiosis"),
    ("repeated letter", "a" * 40), ("repeated pair", "ab" * 20), ("repeated bang", "!" * 30),
    ("hmm", "mmmmmmmmmmm hmmmmm"), ("repeated emoji", "🐶" * 10),
    # Scalars whose class depends on the Unicode version (Unicode 16 and 17 letters).
    ("unicode 16 letter", "a\u1c89b"), ("unicode 17 letter", "a\u088fb"), ("unicode 16 digit", "x\U00010d40y"),
    # Long inputs: truncated to 512 tokens.
    ("long text", LONG_TEXT), ("long word 3000", "x" * 3000), ("long whitespace", " " * 600 + "end"),
    ("long emoji", "🐶🐱" * 400),
]

# A few cases truncated to other lengths (HF truncation=True, max_length=N).
LENGTH_CASES = [
    ("max 2", "a dog barking", 2), ("max 3", "a dog barking", 3), ("max 5", "a dog barking in the rain", 5),
    ("max 8 emoji", "👨‍👩‍👧‍👦 family", 8), ("max 16 long", LONG_TEXT, 16), ("max 4 empty", "", 4),
    ("max 3 exact", "dog", 3),
]

def random_cases(count, seed):
    """Strings mixing scripts, whitespace, symbols and special-token fragments."""
    rng = random.Random(seed)
    pieces = [
        "a", "e", "dog", "The", "rain", "X", "zz", "é", "e\u0301", "ß", "Ж", "λ", "ש", "ع", "अ", "ก",
        "犬", "雨", "한", "カ", "0", "7", "42", "3.5", "1,000", "½", "٣", "Ⅻ", " ", "  ", "\t", "\n", "\r\n",
        "\r", "\u00a0", "\u3000", "\u2003", "\x0b", "'", "'s", "'S", "'re", "'ll", "’", "!", "?", ".", ",",
        "-", "_", "(", ")", "\"", "#", "@", "€", "—", "…", "🐶", "🌧️", "👍🏽", "👨‍👩‍👧", "🇯🇵", "\u0301",
        "\u200d", "\u200b", "\x00", "\x1b", "\x1c", "\x7f", "<s>", "</s>", "<mask>", "<pad>", "<", ">",
        "\ufeff", "\U0001f3fb",
    ]
    cases = []
    for index in range(count):
        length = rng.randrange(1, 40)
        text = "".join(rng.choice(pieces) for _ in range(length))
        cases.append((f"random {index}", text))
    # Random scalars from every plane (no surrogates): classes well away from the corpus.
    for index in range(count // 3):
        scalars = []
        for _ in range(rng.randrange(1, 24)):
            while True:
                value = rng.choice([rng.randrange(0x80), rng.randrange(0x80, 0x3000),
                                    rng.randrange(0x3000, 0x10000), rng.randrange(0x10000, 0x110000)])
                if not 0xD800 <= value <= 0xDFFF:
                    break
            scalars.append(chr(value))
            if rng.random() < 0.2:
                scalars.append(rng.choice([" ", "  ", "\n", "\t"]))
        cases.append((f"random scalars {index}", "".join(scalars)))
    return cases

# ---------------------------------------------------------------------------------------------

def train(lines):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - 1, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(lines, trainer)
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer.model.save(str(OUT))  # vocab.json, merges.txt (with the "#version: 0.2" header)
    vocab = json.loads((OUT / "vocab.json").read_text(encoding="utf-8"))
    vocab["<mask>"] = len(vocab)  # last, as in roberta-base
    assert [vocab[t] for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
    (OUT / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return vocab

def regex_classes():
    """Ranges of scalars that Oniguruma (the Rust tokenizers' regex engine) puts in each class."""
    scalars = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    result = {}
    for name, pattern in [("letter", r"\p{L}"), ("number", r"\p{N}"), ("whitespace", r"\s")]:
        split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
        members = []
        step = 50_000
        for start in range(0, len(scalars), step):
            chunk = scalars[start:start + step]
            kept = set()
            for piece, _ in split.pre_tokenize_str("".join(map(chr, chunk))):
                kept.update(map(ord, piece))
            members += [c for c in chunk if c not in kept]
        ranges = []
        for c in members:
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
        result[name] = ranges
    return result

def crosscheck(folder, out):
    """Many texts through HF's tokenizers for the vocabulary in `folder`; ids from the Rust one."""
    slow = transformers.RobertaTokenizer.from_pretrained(folder)
    fast = transformers.RobertaTokenizerFast.from_pretrained(folder)
    sentences = corpus()
    texts = sentences + [text for _, text in HARD_CASES] + [text for _, text in random_cases(6000, seed=12345)]
    rng = random.Random(99)
    for _ in range(2000):
        texts.append(" ".join(rng.choice(sentences) for _ in range(rng.randrange(1, 8)))
                     + rng.choice(["", ".", "!", " ", "\n"]))
    for _ in range(200):
        texts.append("".join(rng.choice(sentences) + rng.choice([" ", "  ", "\n", "\t", ", ", "'s ", "’s "])
                             for _ in range(rng.randrange(20, 200))))
    cases, disagreements = [], 0
    for text in texts:
        ids = fast(text, truncation=True, max_length=MAX_LENGTH)["input_ids"]
        disagreements += ids != slow(text, truncation=True, max_length=MAX_LENGTH)["input_ids"]
        cases.append({"text": text, "ids": ids})
    pathlib.Path(out).write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    print(f"{len(cases)} texts written to {out}; the Python RobertaTokenizer differs on {disagreements}")

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crosscheck", nargs=2, metavar=("FOLDER", "OUT"))
    args = parser.parse_args()
    if not transformers.__version__.startswith("4."):
        sys.exit(f"needs transformers 4.x (the Python RobertaTokenizer); found {transformers.__version__}: "
                 "pip install 'transformers<5'")
    if args.crosscheck:
        return crosscheck(*args.crosscheck)
    lines = corpus()
    vocab = train(lines)
    slow = transformers.RobertaTokenizer.from_pretrained(str(OUT))
    fast = transformers.RobertaTokenizerFast.from_pretrained(str(OUT))

    cases = [(name, text, MAX_LENGTH) for name, text in HARD_CASES]
    cases += [(name, text, MAX_LENGTH) for name, text in random_cases(90, seed=7)]
    cases += LENGTH_CASES
    assert len({name for name, _, _ in cases}) == len(cases), "case names must be unique"
    byte_decoder = {char: byte for byte, char in bytes_to_unicode().items()}
    def raw(piece):
        return bytes(byte_decoder[char] for char in piece).decode("utf-8")
    records, disagreements = [], []
    for name, text, max_length in cases:
        fast_ids = fast(text, truncation=True, max_length=max_length)["input_ids"]
        slow_ids = slow(text, truncation=True, max_length=max_length)["input_ids"]
        record = {"name": name, "text": text, "max_length": max_length, "ids": fast_ids,
                  "tokens": fast.convert_ids_to_tokens(fast_ids)}
        # The pre-tokenizer alone (no special-token splitting), as raw text pieces.
        record["pieces"] = [raw(piece) for piece, _ in fast.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)]
        python_pieces = slow.pat.findall(text)
        if slow_ids != fast_ids:
            record["python_ids"] = slow_ids
        if python_pieces != record["pieces"]:
            record["python_pieces"] = python_pieces
        if slow_ids != fast_ids or python_pieces != record["pieces"]:
            disagreements.append(name)
        records.append(record)

    long_ids = next(r["ids"] for r in records if r["name"] == "long text")
    assert len(LONG_TEXT) == 3000 and len(long_ids) == MAX_LENGTH, len(long_ids)
    untruncated = len(fast(LONG_TEXT)["input_ids"])
    assert untruncated > MAX_LENGTH, untruncated

    document = {
        "about": "ids and tokens from transformers' RobertaTokenizerFast (truncation=True, max_length=max_length) "
                 "for the vocabulary beside this file, and pieces: its ByteLevel pre-tokenizer's split of the "
                 "whole text (special tokens not split out). python_ids and python_pieces, where present, are "
                 "what the pure-Python RobertaTokenizer gives instead. "
                 "Written by tools/reference/make_tokenizer_fixtures.py.",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "special_ids": {t: vocab[t] for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]},
        "cases": records,
    }
    # One case a line: small, and diffs stay readable.
    compact = dict(separators=(",", ":"), ensure_ascii=False)
    head = json.dumps({k: v for k, v in document.items() if k != "cases"}, **compact)[:-1]
    body = ",\n".join(json.dumps(record, **compact) for record in records)
    (OUT / "cases.json").write_text(f'{head},"cases":[\n{body}\n]}}\n', encoding="utf-8")
    assert json.loads((OUT / "cases.json").read_text(encoding="utf-8")) == document
    classes = {"about": "Oniguruma's \\p{L}, \\p{N} and \\s as the Rust tokenizers package "
                        f"{tokenizers.__version__} sees them: inclusive [first, last] scalar ranges",
               **regex_classes()}
    (OUT / "regex_classes.json").write_text(json.dumps(classes, separators=(",", ":")) + "\n", encoding="utf-8")

    print(f"corpus: {len(lines)} lines; vocab: {len(vocab)} entries; "
          f"merges: {sum(1 for _ in open(OUT / 'merges.txt', encoding='utf-8')) - 1}")
    print(f"cases: {len(records)}; long text: {untruncated} tokens before truncation")
    print(f"Python and Rust tokenizers disagree on {len(disagreements)}: {disagreements}")
    for path in sorted(OUT.iterdir()):
        print(f"  {path.name}: {path.stat().st_size} bytes")

if __name__ == "__main__":
    main()
