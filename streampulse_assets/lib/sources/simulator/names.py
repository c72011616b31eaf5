"""Names for the simulator: real-looking category ids/names per platform and generated ones."""

from __future__ import annotations

import numpy as np

# (CHZZK category id, SOOP category number, Korean display name), roughly by popularity.
CURATED = [
    ("talk", "00130000", "저스트 채팅"),
    ("League_of_Legends", "00040019", "리그 오브 레전드"),
    ("Grand_Theft_Auto_V", "00040034", "그랜드 테프트 오토 V"),
    ("Lost_Ark", "00040056", "로스트아크"),
    ("MapleStory", "00040012", "메이플스토리"),
    ("FC_Online", "00040070", "FC 온라인"),
    ("Valorant", "00040066", "발로란트"),
    ("StarCraft_Remastered", "00040001", "스타크래프트: 리마스터"),
    ("PUBG_BATTLEGROUNDS", "00040032", "배틀그라운드"),
    ("Minecraft", "00040021", "마인크래프트"),
    ("Eternal_Return", "00040081", "이터널 리턴"),
    ("Teamfight_Tactics", "00040063", "전략적 팀 전투"),
    ("Overwatch_2", "00040044", "오버워치 2"),
    ("Dungeon_and_Fighter", "00040008", "던전앤파이터"),
    ("virtual", "00810000", "버추얼"),
    ("Lineage_W", "00040090", "리니지W"),
    ("eating", "00330000", "먹방/쿡방"),
    ("Hearthstone", "00040027", "하스스톤"),
    ("Escape_from_Tarkov", "00040075", "이스케이프 프롬 타르코프"),
    ("Baseball", "00200001", "야구"),
    ("Apex_Legends", "00040061", "에이펙스 레전드"),
    ("Diablo_IV", "00040093", "디아블로 IV"),
    ("World_of_Warcraft", "00040005", "월드 오브 워크래프트"),
    ("music", "00150000", "음악"),
    ("Soccer", "00200002", "축구"),
    ("Sudden_Attack", "00040015", "서든어택"),
    ("Palworld", "00040101", "팰월드"),
    ("Stardew_Valley", "00040052", "스타듀 밸리"),
    ("Dead_by_Daylight", "00040058", "데드 바이 데이라이트"),
    ("Kart_Rider_Drift", "00040097", "카트라이더: 드리프트"),
    ("Elden_Ring", "00040079", "엘든 링"),
    ("Counter_Strike_2", "00040104", "카운터 스트라이크 2"),
    ("Genshin_Impact", "00040085", "원신"),
    ("Honkai_Star_Rail", "00040099", "붕괴: 스타레일"),
    ("Blue_Archive", "00040091", "블루 아카이브"),
    ("Fortnite", "00040064", "포트나이트"),
    ("Cookie_Run_Kingdom", "00040088", "쿠키런: 킹덤"),
    ("Lethal_Company", "00040106", "리썰 컴퍼니"),
    ("Rainbow_Six_Siege", "00040047", "레인보우 식스 시즈"),
    ("Path_of_Exile_2", "00040110", "패스 오브 엑자일 2"),
    ("art", "00160000", "그림/아트"),
    ("Among_Us", "00040083", "어몽 어스"),
]

_PRE = [
    ("드래곤", "Dragon"), ("스타", "Star"), ("레전드", "Legend"), ("판타지", "Fantasy"),
    ("배틀", "Battle"), ("서바이벌", "Survival"), ("헌터", "Hunter"), ("나이트", "Knight"),
    ("로드", "Lord"), ("블레이드", "Blade"), ("쉐도우", "Shadow"), ("아이언", "Iron"),
    ("크리스탈", "Crystal"), ("오션", "Ocean"), ("스페이스", "Space"), ("몬스터", "Monster"),
    ("레이싱", "Racing"), ("팜", "Farm"), ("시티", "City"), ("던전", "Dungeon"),
]  # fmt: skip
_SUF = [
    ("온라인", "Online"), ("아레나", "Arena"), ("택틱스", "Tactics"), ("사가", "Saga"),
    ("월드", "World"), ("크로니클", "Chronicle"), ("리마스터", "Remastered"),
    ("어드벤처", "Adventure"), ("시뮬레이터", "Simulator"), ("워즈", "Wars"), ("M", "M"),
    ("2", "2"), ("3", "3"), ("리턴즈", "Returns"), ("오리진", "Origin"),
]  # fmt: skip
_SYL = list("가나다라마바사아자차카타파하한동수민지현우진서윤호준영재성태빈솔별달빛봄")
_NICK_SUFFIX = ["", "", "", "TV", "님", "짱", "쓰", "이"]
_TITLES = [
    "{game} 랭크 달립니다",
    "오늘도 {game} 합니다",
    "[{game}] 시청자 참여",
    "새벽 {game} 방송",
    "{game} 뉴비 환영 ~",
    "노가리 + {game}",
    "{game} 공략 방송",
    "즐겜 {game} 하는 중",
    "{game} 내기 방송!",
    "드디어 {game} 복귀",
]
SPIKE_TITLES = [
    "[합방] 특별 게스트와 함께",
    "레이드 감사합니다!!",
    "[긴급] 해명 방송",
    "역대급 도전",
]
ADOPTION_TITLE = "오늘은 새 카테고리 도전합니다"
SURGE_TITLE = "[이벤트] 패치/대회 같이 봐요"


def category_names(platform: str, n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """n (category_id, category_name) pairs: the curated list first, then generated titles."""
    out: list[tuple[str, str]] = []
    for chzzk_id, soop_no, name in CURATED[:n]:
        out.append((soop_no if platform == "soop" else chzzk_id, name))
    combos = [(p, s) for p in range(len(_PRE)) for s in range(len(_SUF))]
    order = rng.permutation(len(combos))
    soop_no = 2000
    for k in range(n - len(out)):
        pi, si = combos[order[k % len(combos)]]
        lap = k // len(combos)
        kor = f"{_PRE[pi][0]} {_SUF[si][0]}" + (f" {lap + 1}" if lap else "")
        eng = f"{_PRE[pi][1]}_{_SUF[si][1]}" + (f"_{lap + 1}" if lap else "")
        soop_no += 1 + int(rng.integers(0, 7))
        out.append((f"0004{soop_no:04d}" if platform == "soop" else eng, kor))
    return out


_SIZES_A, _SYL_A, _NICK_SUFFIX_A = np.array([2, 3, 3, 4]), np.array(_SYL), np.array(_NICK_SUFFIX)
_LETTERS_A = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def pick(rng: np.random.Generator, options: np.ndarray, size: int | None = None):
    """Uniform draw(s) from `options`: the draws of `rng.choice`, without its per-call overhead
    (the simulator's catalogue makes ~100,000 of them at start-up)."""
    return options[rng.integers(0, len(options), size)]


def nickname(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        size = int(pick(rng, _SIZES_A))
        name = "".join(pick(rng, _SYL_A, size)) + str(pick(rng, _NICK_SUFFIX_A))
        if name not in taken:
            taken.add(name)
            return name


def channel_id(platform: str, rng: np.random.Generator) -> str:
    if platform == "chzzk":
        return rng.bytes(16).hex()
    letters = "".join(pick(rng, _LETTERS_A, int(rng.integers(4, 9))))
    return f"{letters}{int(rng.integers(0, 1000))}"


def title_texts(game: str) -> list[str]:
    """Every ordinary stream title for a category; `base_title_picks` chooses among them."""
    return [t.format(game=game) for t in _TITLES]


def base_title_picks(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.choice(len(_TITLES), k, replace=False)
